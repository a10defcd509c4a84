"""An object store in an S3 bucket (AWS S3, MinIO) through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO, cast

import boto3
from botocore.exceptions import ClientError

from engine.errors import NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}


class S3ObjectStore:
    """Objects under `s3://bucket/prefix/`. Credentials come from the usual AWS chain."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client: S3Client = boto3.client("s3", endpoint_url=endpoint_url)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        """A single PUT, or a multipart upload completed in one call: atomic in S3.

        boto3 reads the stream in parts (8 MiB by default), so memory stays bounded.
        """
        self.client.upload_fileobj(stream, self.bucket, self._key(key))

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                raise NotFoundError(f"object {key!r} not found in {self.location}") from None
            raise
        body = found["Body"]
        try:
            yield cast("BinaryIO", body)
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise
        return True

    def keys(self, prefix: str = "") -> Iterator[str]:
        strip = len(self._key(""))
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in NOT_FOUND_CODES
