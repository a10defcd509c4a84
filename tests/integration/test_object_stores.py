"""One contract for every object store: a local directory, and S3 through boto3.

S3 is a real HTTP server on loopback (moto's server mode), reached through the same boto3
code path production uses with MinIO or AWS.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
import pytest
from moto.server import ThreadedMotoServer
from net_helpers import free_port

from engine.domain.meta import event_meta
from engine.errors import BadInputError, NotFoundError
from engine.ingest import Upload, load_source
from engine.ports import ObjectStore
from snapshots.stores import LocalObjectStore, S3ObjectStore, open_object_store
from tieout.bootstrap import Container, bootstrap
from tieout.settings import Settings


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


class ObjectStoreContract:
    """What every implementation of engine.ports.ObjectStore must do."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> ObjectStore:
        raise NotImplementedError

    def test_put_then_read_round_trips(self, store: ObjectStore) -> None:
        payload = b"\x00parquet bytes\xff" * 1000
        store.put_stream("sources/sha256/abc.parquet", io.BytesIO(payload))
        assert store.exists("sources/sha256/abc.parquet")
        with store.open("sources/sha256/abc.parquet") as stream:
            assert stream.read() == payload

    def test_a_stream_larger_than_a_part_round_trips(self, store: ObjectStore) -> None:
        # more than boto3's 8 MiB multipart threshold, read back in chunks
        payload = bytes(range(256)) * (9 * 4096 + 7)
        store.put_stream("big", io.BytesIO(payload))
        with store.open("big") as stream:
            chunks = iter(lambda: stream.read(1 << 20), b"")
            assert b"".join(chunks) == payload

    def test_a_failed_put_leaves_no_object(self, store: ObjectStore) -> None:
        with pytest.raises(OSError, match="connection reset"):
            store.put_stream("half", cast("BinaryIO", _FailingStream(b"x" * 100_000)))
        assert not store.exists("half")
        assert list(store.keys()) == []

    def test_missing_object(self, store: ObjectStore) -> None:
        assert not store.exists("nothing/here")
        with pytest.raises(NotFoundError, match="nothing/here"), store.open("nothing/here"):
            pass

    def test_keys_are_listed_by_prefix_in_order(self, store: ObjectStore) -> None:
        for key in ("b/2", "a/1", "b/1", "c"):
            store.put_stream(key, io.BytesIO(b"x"))
        assert list(store.keys("b/")) == ["b/1", "b/2"]
        assert list(store.keys()) == ["a/1", "b/1", "b/2", "c"]

    def test_delete(self, store: ObjectStore) -> None:
        store.put_stream("gone", io.BytesIO(b"x"))
        store.delete("gone")
        assert not store.exists("gone")


class _FailingStream(io.RawIOBase):
    """Yields `data` once, then fails as a dropped upload would."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.data:
            raise OSError("connection reset")
        size = min(len(buffer), len(self.data))
        buffer[:size] = self.data[:size]
        self.data = self.data[size:]
        return size


class TestLocalObjectStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ObjectStore:
        return LocalObjectStore(tmp_path / "objects")

    def test_keys_cannot_leave_the_root(self, store: ObjectStore) -> None:
        with pytest.raises(BadInputError, match="leaves the store"):
            store.exists("../outside")


class TestS3ObjectStore(ObjectStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path, s3_endpoint: str) -> ObjectStore:
        bucket = f"tieout-{tmp_path.name.lower().replace('_', '-')}"[:63]
        boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
        return S3ObjectStore(bucket, "objects", endpoint_url=s3_endpoint)

    def test_location_names_bucket_and_prefix(self, store: ObjectStore) -> None:
        assert store.location.startswith("s3://tieout-")
        assert store.location.endswith("/objects")


def test_location_strings_pick_the_store(tmp_path: Path, s3_endpoint: str) -> None:
    assert isinstance(open_object_store(str(tmp_path)), LocalObjectStore)
    assert isinstance(open_object_store(f"file://{tmp_path}"), LocalObjectStore)
    s3 = open_object_store("s3://bucket/some/prefix", s3_endpoint_url=s3_endpoint)
    assert isinstance(s3, S3ObjectStore)
    assert (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    with pytest.raises(BadInputError, match="no bucket"):
        open_object_store("s3://")
    with pytest.raises(BadInputError, match="expected a directory"):
        open_object_store("ftp://host/x")


def test_sources_are_registered_into_s3(
    settings: Settings, s3_endpoint: str, tmp_path: Path
) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="tieout-sources")
    on_s3 = settings.model_copy(
        update={"object_store": "s3://tieout-sources/objects", "s3_endpoint_url": s3_endpoint}
    )
    built = bootstrap(on_s3)
    try:
        meta = event_meta(actor="user:alice@example.com", causation="test")
        project = built.app.create_project("p", meta)
        csv = tmp_path / "bank.csv"
        csv.write_text("txn_id,amount\n1,10.5\n", encoding="utf-8")
        source = built.app.get_source(project, built.app.register_source_file(project, csv, meta))
        assert built.object_store.location == "s3://tieout-sources/objects"
        assert list(built.object_store.keys("sources/")) == [source.location]
        assert load_source(built.object_store, source.location).height == 1
    finally:
        built.close()


def test_a_source_streams_from_an_s3_object(
    container: Container, s3_endpoint: str, tmp_path: Path
) -> None:
    """An object in another bucket registers without a local copy of it being made first,
    and gives the same source as the same bytes from a file."""
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket="incoming")
    csv = tmp_path / "bank.csv"
    csv.write_text("txn_id,amount\n1,10.5\n2,7\n", encoding="utf-8")
    client.upload_file(str(csv), "incoming", "drops/bank.csv")
    incoming = S3ObjectStore("incoming", "drops", endpoint_url=s3_endpoint)
    meta = event_meta(actor="user:alice@example.com", causation="test")
    project = container.app.create_project("p", meta)
    with incoming.open("bank.csv") as stream:
        streamed = container.app.register_source(project, Upload("bank.csv", "csv", stream), meta)
    assert streamed == container.app.register_source_file(project, csv, meta)
    assert container.app.get_source(project, streamed).row_count == 2
