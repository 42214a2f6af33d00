"""The file-drop directory rules, without a broker: which files are taken and when, their ids, and where they go
afterwards."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

import connectors.filedrop
from connectors.filedrop import DropFile, FileChanged, FileDrop, classify, file_event_id

DEALER = "dealer-riverside-ford"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drop_file(root: Path, name: str, data: bytes = PNG, dealer: str = DEALER, mtime: float | None = None) -> Path:
    path = root / dealer / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def settled(root: Path) -> FileDrop:
    return FileDrop(root, settle_s=0)


def test_a_file_is_taken_once_its_size_and_mtime_held_still_for_settle_s(tmp_path: Path) -> None:
    clock = Clock()
    drop = FileDrop(tmp_path, settle_s=2.0, clock=clock)
    path = drop_file(tmp_path, "ro-1001.pdf", b"%PDF-1.7 first half")
    assert drop.scan() == []  # just appeared: a copy may still be running
    clock.now += 1.9
    assert drop.scan() == []
    with path.open("ab") as stream:  # the writer goes on: the wait starts again
        stream.write(b" second half")
    clock.now += 1.0
    assert drop.scan() == []
    clock.now += 1.5
    assert drop.scan() == []
    clock.now += 0.5
    [ready] = drop.scan()
    assert ready.path == path and ready.size == path.stat().st_size
    assert ready.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # touched, same size
    assert drop.scan() == []
    clock.now += 2.0
    assert [f.path for f in drop.scan()] == [path]


def test_names_of_files_still_being_written_are_never_taken(tmp_path: Path) -> None:
    names = [".scan-1.pdf", "scan-2.pdf.tmp", "scan-3.PART", "call-4.wav.crdownload", ".~lock.tiff"]
    for name in names:
        drop_file(tmp_path, name)
    drop = settled(tmp_path)
    assert drop.scan() == []
    assert sorted(p.name for p in (tmp_path / DEALER).iterdir()) == sorted(names)  # nothing moved or rejected


def test_documents_and_recordings_are_classified_by_extension_and_other_files_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    documents = ["a.pdf", "b.png", "c.jpg", "d.JPEG", "e.tif", "f.tiff"]
    calls = ["g.wav", "h.mp3", "i.ogg", "j.flac", "k.m4a", "l.Opus"]
    for index, name in enumerate([*documents, *calls, "notes.txt", "export.csv"]):
        drop_file(tmp_path, name, mtime=1_700_000_000 + index)
    drop = settled(tmp_path)
    with caplog.at_level(logging.WARNING, logger="connectors.filedrop"):
        ready = drop.scan()
        assert drop.scan() == ready  # not published yet: offered again
    assert {f.name: f.kind for f in ready} == {**dict.fromkeys(documents, "document"), **dict.fromkeys(calls, "call")}
    assert all(f.dealer_id == DEALER and f.source_id == Path(f.name).stem for f in ready)
    ignored = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert len(ignored) == 2 and any("notes.txt" in m for m in ignored) and any("export.csv" in m for m in ignored)
    assert classify("scan.PDF") == "document" and classify("voicemail.opus") == "call" and classify("x") is None


def test_ready_files_come_oldest_first(tmp_path: Path) -> None:
    drop_file(tmp_path, "newest.pdf", mtime=1_700_000_300)
    drop_file(tmp_path, "oldest.wav", dealer="dealer-bayside-honda", mtime=1_700_000_100)
    drop_file(tmp_path, "middle.png", mtime=1_700_000_200)
    assert [f.name for f in settled(tmp_path).scan()] == ["oldest.wav", "middle.png", "newest.pdf"]


def test_empty_and_unreadable_files_are_rejected_with_the_reason_and_do_not_block_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drop_file(tmp_path, "empty.pdf", b"")
    drop_file(tmp_path, "locked.wav", b"RIFF....WAVE")
    good = drop_file(tmp_path, "good.png")
    real_sha256 = connectors.filedrop.file_sha256

    def sha256(path: Path) -> str:
        if path.name == "locked.wav":
            raise PermissionError(13, "Permission denied", str(path))
        return real_sha256(path)

    monkeypatch.setattr(connectors.filedrop, "file_sha256", sha256)
    drop = settled(tmp_path)
    assert [f.path for f in drop.scan()] == [good]
    rejected = tmp_path / DEALER / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == ["empty.pdf", "empty.pdf.error.txt", "locked.wav",
                                                          "locked.wav.error.txt"]
    assert "empty (0 bytes)" in (rejected / "empty.pdf.error.txt").read_text()
    assert "cannot be read" in (rejected / "locked.wav.error.txt").read_text()
    assert "Permission denied" in (rejected / "locked.wav.error.txt").read_text()

    [file] = drop.scan()
    moved = drop.reject(file, "not a scan the dealership recognises")
    assert moved == rejected / "good.png" and moved.read_bytes() == PNG
    assert (rejected / "good.png.error.txt").read_text() == "not a scan the dealership recognises\n"
    assert drop.scan() == []


def test_a_published_file_moves_to_processed_and_a_name_clash_gets_the_digest(tmp_path: Path) -> None:
    drop = settled(tmp_path)
    drop_file(tmp_path, "invoice.pdf", b"%PDF-1.7 the first invoice")
    [first] = drop.scan()
    assert drop.done(first) == tmp_path / DEALER / "processed" / "invoice.pdf"
    assert drop.scan() == []

    drop_file(tmp_path, "invoice.pdf", b"%PDF-1.7 the DMS exported another invoice under the same name")
    [second] = drop.scan()
    moved = drop.done(second)
    assert moved == tmp_path / DEALER / "processed" / f"invoice-{second.sha256[:8]}.pdf"
    assert moved.read_bytes().endswith(b"under the same name")
    assert (tmp_path / DEALER / "processed" / "invoice.pdf").read_bytes() == b"%PDF-1.7 the first invoice"
    assert sorted(p.name for p in (tmp_path / DEALER).iterdir()) == ["processed"]


def test_a_file_that_cannot_be_moved_after_publishing_is_not_offered_again(tmp_path: Path) -> None:
    drop = settled(tmp_path)
    path = drop_file(tmp_path, "ro-7.pdf", b"%PDF-1.7 repair order")
    (tmp_path / DEALER / "processed").write_text("a file where the directory should be")
    [file] = drop.scan()
    assert drop.done(file) is None
    assert path.exists() and drop.scan() == []  # published once is enough for this process


def test_invalid_dealer_directories_and_stray_files_are_ignored_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    drop_file(tmp_path, "scan.pdf", dealer="riverside ford")
    drop_file(tmp_path, "scan.pdf", dealer="lost+found")
    drop_file(tmp_path, "scan.pdf", dealer=".snapshot")
    (tmp_path / "readme.pdf").write_bytes(PNG)
    good = drop_file(tmp_path, "scan.pdf", dealer="dealer_42.north-lot")
    drop = settled(tmp_path)
    with caplog.at_level(logging.WARNING, logger="connectors.filedrop"):
        for _ in range(3):
            assert [(f.dealer_id, f.path) for f in drop.scan()] == [("dealer_42.north-lot", good)]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3
    assert any("'riverside ford' is not a valid dealer id" in w for w in warnings)
    assert any("'lost+found' is not a valid dealer id" in w for w in warnings)
    assert any("readme.pdf" in w for w in warnings)


def test_a_missing_root_is_reported_once_and_not_created(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    drop = FileDrop(tmp_path / "share", settle_s=0)
    with caplog.at_level(logging.WARNING, logger="connectors.filedrop"):
        assert drop.scan() == [] and drop.scan() == []
    assert len(caplog.records) == 1 and "cannot be listed" in caplog.records[0].getMessage()
    assert not (tmp_path / "share").exists()
    drop_file(tmp_path / "share", "scan.pdf")
    assert [f.name for f in drop.scan()] == ["scan.pdf"]


def test_event_ids_follow_dealer_name_and_content(tmp_path: Path) -> None:
    drop_file(tmp_path / "a", "ro-1.pdf", b"%PDF-1.7 one")
    drop_file(tmp_path / "b", "ro-1.pdf", b"%PDF-1.7 one")
    [first] = settled(tmp_path / "a").scan()
    [again] = settled(tmp_path / "b").scan()  # another process, another mount point: the same id
    assert first.event_id == again.event_id == file_event_id(DEALER, "ro-1.pdf", first.sha256)
    assert first.event_id.version == 5
    others = {file_event_id("dealer-bayside-honda", "ro-1.pdf", first.sha256),
              file_event_id(DEALER, "ro-2.pdf", first.sha256),
              file_event_id(DEALER, "ro-1.pdf", hashlib.sha256(b"%PDF-1.7 two").hexdigest())}
    assert first.event_id not in others and len(others) == 3


def test_reading_checks_the_content_it_settled_with(tmp_path: Path) -> None:
    path = drop_file(tmp_path, "ro-9.pdf", b"%PDF-1.7 before")
    drop = settled(tmp_path)
    [file] = drop.scan()
    assert drop.read(file) == b"%PDF-1.7 before"
    path.write_bytes(b"%PDF-1.7 after!")
    with pytest.raises(FileChanged, match="changed after it settled"):
        drop.read(file)
    [again] = drop.scan()
    assert again.sha256 != file.sha256 and drop.read(again) == b"%PDF-1.7 after!"
    assert isinstance(again, DropFile)
