"""The local blob store: what large recordings and scans travel through, checked before use."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from connectors.blobstore import BlobMissing, BlobRejected, LocalBlobStore


def test_a_stored_blob_comes_back_verified(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = b"RIFF" + bytes(range(256)) * 100
    ref = store.put(data, ".wav")
    assert ref.uri.startswith("file://") and ref.size_bytes == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert store.fetch(ref.uri, ref.sha256.upper()) == data
    assert store.put(data, ".wav") == ref  # content-addressed: a re-upload is the same blob


def test_a_checksum_mismatch_is_rejected(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ref = store.put(b"the real recording")
    with pytest.raises(BlobRejected, match="checksum mismatch"):
        store.fetch(ref.uri, hashlib.sha256(b"what the phone system meant to upload").hexdigest())


def test_only_blobs_inside_the_store_are_read(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    secret = tmp_path / "secret.txt"
    secret.write_text("not a blob")
    with pytest.raises(BlobRejected, match="outside the blob store"):
        store.fetch(secret.as_uri(), hashlib.sha256(b"not a blob").hexdigest())
    with pytest.raises(BlobRejected, match="outside the blob store"):
        store.fetch((tmp_path / "blobs" / ".." / "secret.txt").as_uri(), "0" * 64)
    with pytest.raises(BlobRejected, match="only file:// URIs"):
        store.fetch("http://example.invalid/call.wav", "0" * 64)


def test_a_missing_blob_is_transient_and_an_oversized_one_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, max_bytes=10)
    with pytest.raises(BlobMissing):  # retried: the upload may still be in flight
        store.fetch((tmp_path / "ab" / "not-yet").as_uri(), "0" * 64)
    ref = store.put(b"more than ten bytes")
    with pytest.raises(BlobRejected, match="the limit is 10"):
        store.fetch(ref.uri, ref.sha256)
