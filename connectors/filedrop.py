"""The file-drop source, broker-free: a watched directory per dealer whose settled files become events.

``<root>/<dealer_id>/invoice-1001.pdf`` is a document, ``<root>/<dealer_id>/call-42.wav`` a call recording.
The directory is polled rather than watched with inotify: DMS exports often land on network shares (SMB, NFS),
where inotify sees no changes made by other machines. A file is taken once its size and modification time have
not changed for ``settle_s`` (a writer may still be copying it); after its event is acknowledged it moves to
``<dealer>/processed/``, and a file that cannot be read (or is empty) moves to ``<dealer>/rejected/`` with a
``<name>.error.txt`` saying why. The event id is derived from the dealer, the file name and the content, so a
file published again after a crash (before it was moved) carries the same id and the pipelines drop it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

FileKind = Literal["document", "call"]

DOCUMENT_SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
CALL_SUFFIXES = frozenset({".wav", ".mp3", ".ogg", ".flac", ".m4a", ".opus"})
PARTIAL_SUFFIXES = (".tmp", ".part", ".crdownload")  # browsers, rsync, scanners write under these, then rename
PROCESSED = "processed"
REJECTED = "rejected"
DEALER_ID = re.compile(r"[A-Za-z0-9._-]+")
FILE_DROP_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://auterity.io/streams/file-drop")


def file_event_id(dealer_id: str, name: str, sha256: str) -> uuid.UUID:
    """The event id of a dropped file: the same dealer, name and content always give the same id."""
    return uuid.uuid5(FILE_DROP_NAMESPACE, f"{dealer_id}/{name}/{sha256}")


def classify(name: str) -> FileKind | None:
    """``document`` or ``call`` by the file's extension; None for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix in DOCUMENT_SUFFIXES:
        return "document"
    if suffix in CALL_SUFFIXES:
        return "call"
    return None


def is_partial(name: str) -> bool:
    """True for names a writer uses while the file is incomplete (hidden or temporary names)."""
    return name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FileChanged(Exception):
    """The file's content is not what it was when it settled: a writer touched it again."""


@dataclass(frozen=True)
class DropFile:
    """A settled file ready to publish: whose it is, what it is, and its content's digest and size."""

    dealer_id: str
    path: Path
    kind: FileKind
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def source_id(self) -> str:
        """The document_id or call_id the event carries: the file name without its extension."""
        return self.path.stem

    @property
    def event_id(self) -> uuid.UUID:
        return file_event_id(self.dealer_id, self.name, self.sha256)


@dataclass
class _Observed:
    """What a scan last saw of a file, since when, and its digest once computed."""

    size: int
    mtime_ns: int
    since: float
    sha256: str | None = None


class FileDrop:
    """Scans ``root`` for settled files and moves them to ``processed/`` or ``rejected/`` afterwards.

    One FileDrop per root and process: the settle state lives in memory, so a restart waits ``settle_s`` again
    before taking a file, which is exactly what a file still being copied needs.
    """

    def __init__(self, root: Path, *, settle_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.root = Path(root)
        self.settle_s = settle_s
        self._clock = clock
        self._observed: dict[Path, _Observed] = {}
        self._noted: set[Path] = set()  # ignored entries, logged once each
        self._unmovable: dict[Path, tuple[int, int]] = {}  # published, but the move to processed/ failed

    def scan(self) -> list[DropFile]:
        """The files ready to publish, oldest modification time first; empty or unreadable ones are rejected."""
        now = self._clock()
        present: set[Path] = set()
        ready: list[tuple[int, DropFile]] = []
        for dealer_id, dealer_dir in self._dealer_dirs(present):
            for path, stat in self._candidates(dealer_dir, present):
                kind = classify(path.name)
                if kind is None:
                    self._note(path, "ignoring %s: not a document (%s) or a recording (%s)", path,
                               " ".join(sorted(DOCUMENT_SUFFIXES)), " ".join(sorted(CALL_SUFFIXES)))
                    continue
                if self._unmovable.get(path) == (stat.st_size, stat.st_mtime_ns):
                    continue  # already published; publishing again each poll would only flood the topic
                observed = self._observe(path, stat, now)
                if now - observed.since < self.settle_s:
                    continue
                if stat.st_size == 0:
                    self._reject(dealer_dir, path, "the file is empty (0 bytes)", None)
                    continue
                if observed.sha256 is None:
                    try:
                        observed.sha256 = file_sha256(path)
                    except FileNotFoundError:
                        continue  # moved away by someone else since the listing
                    except OSError as exc:
                        self._reject(dealer_dir, path, f"the file cannot be read: {exc}", None)
                        continue
                ready.append((stat.st_mtime_ns, DropFile(dealer_id, path, kind, observed.sha256, stat.st_size)))
        self._observed = {p: o for p, o in self._observed.items() if p in present}
        self._noted &= present
        self._unmovable = {p: s for p, s in self._unmovable.items() if p in present}
        ready.sort(key=lambda item: (item[0], item[1].dealer_id, item[1].name))
        return [file for _, file in ready]

    def read(self, file: DropFile) -> bytes:
        """The file's bytes, checked against the digest it settled with (the event id is made from it)."""
        data = file.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != file.sha256:
            self._observed.pop(file.path, None)  # let it settle again with its new content
            raise FileChanged(f"{file.path} changed after it settled; it will be taken once it settles again")
        return data

    def done(self, file: DropFile) -> Path | None:
        """Move a published file to ``processed/``; a name already there gets the digest's first 8 hex digits.

        Returns the new path, or None when the move failed (logged; the file is not published again by this
        process, and after a restart its re-publication carries the same event id).
        """
        self._observed.pop(file.path, None)
        try:
            return _move(file.path, file.path.parent / PROCESSED, file.sha256[:8])
        except FileNotFoundError:
            log.warning("%s was published but has disappeared before it could be moved to %s/", file.path,
                        PROCESSED)
        except OSError as exc:
            log.error("%s was published but cannot be moved to %s/: %s", file.path, PROCESSED, exc)
            try:
                stat = file.path.stat()
            except OSError:
                return None  # it is gone after all: nothing left to publish twice
            self._unmovable[file.path] = (stat.st_size, stat.st_mtime_ns)
        return None

    def reject(self, file: DropFile, reason: str) -> Path | None:
        """Move a file that cannot become an event to ``rejected/``, with ``<name>.error.txt`` saying why."""
        return self._reject(file.path.parent, file.path, reason, file.sha256)

    def _dealer_dirs(self, present: set[Path]) -> Iterator[tuple[str, Path]]:
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except OSError as exc:
            # Not created: on a network share a missing root usually means the share is not mounted.
            self._note(self.root, "file-drop root %s cannot be listed: %s", self.root, exc)
            present.add(self.root)
            return
        for entry in entries:
            path = Path(entry.path)
            present.add(path)
            if entry.name.startswith("."):
                continue  # .snapshot, .Trash-1000 and the like on file servers
            if not entry.is_dir():
                self._note(path, "ignoring %s: files belong in a dealer directory (%s/<dealer_id>/)", path,
                           self.root)
            elif not DEALER_ID.fullmatch(entry.name):
                self._note(path, "ignoring directory %s: %r is not a valid dealer id (letters, digits, '.', '_', "
                           "'-')", path, entry.name)
            else:
                yield entry.name, path

    def _candidates(self, dealer_dir: Path, present: set[Path]) -> Iterator[tuple[Path, os.stat_result]]:
        try:
            entries = list(os.scandir(dealer_dir))
        except OSError as exc:
            self._note(dealer_dir, "cannot list %s: %s", dealer_dir, exc)
            return
        for entry in entries:
            path = Path(entry.path)
            present.add(path)
            if is_partial(entry.name):
                continue
            try:
                if not entry.is_file():
                    continue  # processed/, rejected/ and any other subdirectory
                stat = entry.stat()
            except OSError:
                continue  # vanished since the listing
            yield path, stat

    def _observe(self, path: Path, stat: os.stat_result, now: float) -> _Observed:
        observed = self._observed.get(path)
        if observed is None or (observed.size, observed.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            observed = self._observed[path] = _Observed(stat.st_size, stat.st_mtime_ns, now)
        return observed

    def _note(self, path: Path, message: str, *args: object) -> None:
        if path not in self._noted:
            self._noted.add(path)
            log.warning(message, *args)

    def _reject(self, dealer_dir: Path, path: Path, reason: str, sha256: str | None) -> Path | None:
        self._observed.pop(path, None)
        clash_suffix = sha256[:8] if sha256 else f"{time.time_ns():x}"
        try:
            moved = _move(path, dealer_dir / REJECTED, clash_suffix)
            moved.with_name(f"{moved.name}.error.txt").write_text(f"{reason}\n", encoding="utf-8")
        except OSError as exc:
            self._note(path, "cannot move %s to %s/ (%s): %s", path, REJECTED, reason, exc)
            return None
        log.warning("rejected %s: %s", path, reason)
        return moved


def _move(path: Path, directory: Path, clash_suffix: str) -> Path:
    """Move ``path`` into ``directory``; when its name is taken, insert ``-<clash_suffix>`` before the extension."""
    directory.mkdir(exist_ok=True)
    target = directory / path.name
    if target.exists():
        target = directory / f"{path.stem}-{clash_suffix}{path.suffix}"
    path.rename(target)  # same directory tree, so an atomic rename
    return target
