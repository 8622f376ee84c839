"""Object storage in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, R2, …), through boto3.

``s3://bucket/prefix`` keeps every object under ``prefix/`` in ``bucket``. Results are served
to clients by presigned GET URLs (see ``presigned_url``), so their bytes never pass through
an API process. Credentials come from explicit settings when given, else from boto3's usual
chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an instance role…).

An outage (connection refused or reset, a timeout, 500/502/503/504 or SlowDown) is retried
with jittered backoff for ``retry_seconds`` in all (see ``objects/retry.py``; boto3's own
retries are off so that bound holds), then raised as ``StorageUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from pixelmotion.objects.base import ObjectNotFound, validate_key
from pixelmotion.objects.retry import RetryPolicy, retry_call

T = TypeVar("T")

MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
# Answers that mean "the server is in trouble, try again", not "your request is wrong".
TRANSIENT_STATUSES = {500, 502, 503, 504}
TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "500", "503"}


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → (``bucket``, ``some/prefix``); the prefix may be empty."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError("an S3 storage URL looks like s3://bucket or s3://bucket/prefix")
    prefix = parsed.path.strip("/")
    if prefix:
        validate_key(prefix)
    return parsed.netloc, prefix


class S3ObjectStore:
    local = False

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        public_url: str | None = None,
        retry_seconds: float = 1.0,
        connect_timeout: float = 1.0,
        read_timeout: float = 10.0,
    ) -> None:
        """``endpoint_url``: an S3-compatible server (None: AWS). ``public_url``: the endpoint
        that presigned URLs name, when clients reach the bucket at another address than we do.
        ``retry_seconds``: how long one call keeps trying through an outage."""
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.retry = RetryPolicy(budget_seconds=retry_seconds, base=0.1, cap=1.0)
        session = boto3.session.Session(
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            region_name=region or None,
        )
        config = Config(
            signature_version="s3v4",
            # Path-style (endpoint/bucket/key) for other servers: MinIO and friends need no
            # wildcard DNS then. AWS itself picks virtual-hosted style.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            # One try per boto3 call: retry_call retries, within a bounded total time.
            retries={"mode": "standard", "max_attempts": 1},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=32,
            # Checksums only where S3 requires them: many S3-compatible servers refuse the
            # CRC headers newer boto3 adds to every upload by default.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = session.client("s3", endpoint_url=endpoint_url or None, config=config)
        self._signer: Any = (
            session.client("s3", endpoint_url=public_url, config=config)
            if public_url and public_url != endpoint_url
            else self._client
        )

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # --- the ObjectStore protocol -------------------------------------------------------

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        # upload_file switches to a multipart upload for large files (paid clips). An S3
        # PUT is atomic: the object is there whole or not at all.
        name = self._key(key)
        self._retrying(
            f"put {key}",
            lambda: self._client.upload_file(
                str(path), self.bucket, name, ExtraArgs={"ContentType": content_type}
            ),
        )

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        name = self._key(key)
        self._retrying(
            f"put {key}",
            lambda: self._client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=content_type
            ),
        )

    def get_bytes(self, key: str) -> bytes:
        name = self._key(key)

        def get() -> bytes:
            answer = self._client.get_object(Bucket=self.bucket, Key=name)
            with answer["Body"] as body:
                return cast(bytes, body.read())

        try:
            return self._retrying(f"get {key}", get)
        except ClientError as error:
            if _missing(error):
                raise ObjectNotFound(key) from None
            raise

    def local_path(self, key: str) -> Path | None:
        return None

    def exists(self, key: str) -> bool:
        name = self._key(key)
        try:
            self._retrying(f"head {key}", lambda: self._client.head_object(Bucket=self.bucket, Key=name))
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    def delete_prefix(self, prefix: str) -> int:
        """Delete the object ``prefix`` and every object below ``prefix/``; missing is fine."""
        base = self._key(prefix.rstrip("/"))

        def doomed() -> Iterator[str]:
            for item in self._list(base):
                if item["Key"] == base or item["Key"].startswith(base + "/"):
                    yield item["Key"]

        return self._retrying(f"delete {prefix}", lambda: self._delete(doomed()))

    def delete_older_than(self, prefix: str, cutoff: datetime) -> int:
        """Delete the objects below ``prefix/`` last written before ``cutoff``."""
        base = self._key(prefix.rstrip("/")) + "/"
        return self._retrying(
            f"expire {prefix}",
            lambda: self._delete(item["Key"] for item in self._list(base) if item["LastModified"] < cutoff),
        )

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        """A GET URL anyone holding it may use until it expires; computed here, no request."""
        url = self._signer.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_seconds,
        )
        return cast(str, url)

    # --- helpers ------------------------------------------------------------------------

    def _retrying(self, what: str, operation: Callable[[], T]) -> T:
        return retry_call(operation, policy=self.retry, transient=transient_error, what=what)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (tests, first start on MinIO)."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if not _missing(error):
                raise
            self._client.create_bucket(Bucket=self.bucket)

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _delete(self, keys: Iterator[str]) -> int:
        """Delete in batches; a key already gone counts as deleted (idempotent)."""
        count = 0
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == DELETE_BATCH:
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        return count

    def _delete_batch(self, keys: list[str]) -> int:
        answer = self._client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        errors = answer.get("Errors", [])
        if errors:
            first = errors[0]
            raise OSError(f"S3 refused to delete {len(errors)} objects, e.g. {first.get('Key')}: {first}")
        return len(keys)


def transient_error(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it, as boto3's upload wraps it) is an outage."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, (BotoConnectionError, HTTPClientError)):
            return True  # refused, reset, DNS, connect or read timeout
        if isinstance(seen, ClientError):
            status = seen.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = str(seen.response.get("Error", {}).get("Code"))
            return status in TRANSIENT_STATUSES or code in TRANSIENT_CODES
        if isinstance(seen, S3UploadFailedError) and seen.__cause__ is None and seen.__context__ is None:
            # Older boto3 keeps only the message of the ClientError it wraps.
            return any(f"({code})" in str(seen) for code in TRANSIENT_CODES)
        seen = seen.__cause__ or seen.__context__
    return False


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in MISSING_CODES
