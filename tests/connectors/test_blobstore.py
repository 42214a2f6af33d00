"""The blob stores (a local directory, S3-compatible): what large recordings and scans travel through, checked
before use."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.blobstore import BlobMissing, BlobRejected, LocalBlobStore, S3BlobStore, open_blob_store


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


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto's, standing in for S3 or MinIO, which cannot run here)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3BlobStore:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    store = open_blob_store("s3://dealer-scans/documents", max_bytes=64, endpoint_url=s3_endpoint,
                            region="us-east-1")
    assert isinstance(store, S3BlobStore)
    store.client.create_bucket(Bucket="dealer-scans")
    return store


def test_an_s3_blob_round_trips_over_http_verified(s3_store: S3BlobStore) -> None:
    data = b"%PDF-1.7 a scanned repair order"
    ref = s3_store.put(data, ".pdf")
    assert ref.uri == f"s3://dealer-scans/documents/{ref.sha256[:2]}/{ref.sha256}.pdf"
    assert s3_store.fetch(ref.uri, ref.sha256) == data
    assert s3_store.put(data, ".pdf") == ref
    head = s3_store.client.head_object(Bucket="dealer-scans", Key=ref.uri.removeprefix("s3://dealer-scans/"))
    assert head["Metadata"]["sha256"] == ref.sha256


def test_s3_rejects_mismatches_foreign_keys_and_oversized_blobs(s3_store: S3BlobStore) -> None:
    ref = s3_store.put(b"the real scan")
    with pytest.raises(BlobRejected, match="checksum mismatch"):
        s3_store.fetch(ref.uri, hashlib.sha256(b"another scan").hexdigest())
    for foreign in ("s3://another-bucket/documents/ab/x", "s3://dealer-scans/payroll/x",
                    "s3://dealer-scans/documents/../payroll/x", "file:///etc/passwd"):
        with pytest.raises(BlobRejected, match="outside the blob store"):
            s3_store.fetch(foreign, ref.sha256)
    with pytest.raises(BlobMissing):
        s3_store.fetch("s3://dealer-scans/documents/ab/not-uploaded-yet", ref.sha256)
    big = s3_store.put(b"x" * 100)
    with pytest.raises(BlobRejected, match="the limit is 64"):
        s3_store.fetch(big.uri, big.sha256)


def test_a_location_picks_the_store() -> None:
    assert isinstance(open_blob_store("var/blobs", max_bytes=1), LocalBlobStore)
    with pytest.raises(ValueError, match="expected s3://bucket"):
        open_blob_store("s3://", max_bytes=1)
