"""Where uploaded files live: listmonk's two upload providers, ``filesystem`` and ``s3``.

Both APIs and the sender use them with the upload settings in force (``upload.*``). A provider
is made for each use from the live settings (``store_for``), so a settings change applies to
the next upload, read or URL. An object is named by its ``key``: the file's name in
``upload.filesystem.upload_path``, or its whole key in the bucket (``upload.s3.bucket_path``
included). Keys are recorded in the events as written, so a later change of the bucket path
does not lose the files already uploaded.

``put_new`` never replaces an object: a file is created with an exclusive hard link of a
temporary file (atomic: a reader never sees half a file), an S3 object with ``If-None-Match:
*``. That is what keeps two uploads of the same name from overwriting each other.

boto3 is synchronous: its calls run in a worker thread. Its clients are thread-safe and cached
per configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from events.settings import AppSettings
from gotemplate.gotime import parse_duration

PROVIDERS = ("filesystem", "s3")
TEMP_PREFIX = ".upload-"  # never served: names starting with a dot are refused
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # S3's limit for a pre-signed URL
DEFAULT_EXPIRY_SECONDS = 167 * 3600  # listmonk's default (and fallback) expiry


class StorageError(Exception):
    """The provider could not do what was asked (its message says why)."""


class ObjectMissing(StorageError):
    """No object has that key."""


class MediaStore(Protocol):
    """An upload provider with the settings in force."""

    @property
    def name(self) -> str:
        """``filesystem`` or ``s3``."""
        ...

    def key_for(self, filename: str) -> str:
        """The key a file of that name gets."""
        ...

    async def put_new(self, key: str, data: bytes, content_type: str) -> bool:
        """Store ``data`` under ``key`` unless an object already has it (then False)."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes (``ObjectMissing`` if there is none)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        ...

    def url(self, key: str) -> str:
        """Where a client fetches the object."""
        ...


def upload_uri(settings: AppSettings) -> str:
    """``upload.filesystem.upload_uri`` cleaned like Go's ``filepath.Clean``: one leading
    ``/``, no trailing one (``/uploads``)."""
    parts = [p for p in settings.upload_filesystem_upload_uri.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts) if parts else ""


def upload_dir(settings: AppSettings) -> str:
    """The directory of ``upload.filesystem.upload_path`` (relative to the working directory,
    as listmonk resolves it; the working directory when empty)."""
    return os.path.abspath(settings.upload_filesystem_upload_path or ".")


@dataclass(frozen=True)
class FilesystemStore:
    """Files in one directory, served under ``upload_uri`` by the query API
    (``services/query_api/media/serving.py``)."""

    directory: str
    root_url: str
    uri: str
    name: str = "filesystem"

    def key_for(self, filename: str) -> str:
        return filename

    def path_of(self, key: str) -> str:
        if not key or "/" in key or "\\" in key or key.startswith(".") or "\x00" in key:
            raise ObjectMissing(f"no file {key!r}")
        return os.path.join(self.directory, key)

    async def put_new(self, key: str, data: bytes, content_type: str) -> bool:
        return await asyncio.to_thread(self._put_new, self.path_of(key), data)

    def _put_new(self, path: str, data: bytes) -> bool:
        try:
            os.makedirs(self.directory, exist_ok=True)
            temp = os.path.join(self.directory, f"{TEMP_PREFIX}{uuid.uuid4().hex}")
            with open(temp, "xb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.chmod(temp, 0o644)
                os.link(temp, path)  # fails if the name is taken: never overwrites
            except FileExistsError:
                return False
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        except OSError as exc:
            raise StorageError(f"{exc.strerror or exc}") from None
        return True

    async def get(self, key: str) -> bytes:
        path = self.path_of(key)
        try:
            return await asyncio.to_thread(_read_file, path)
        except FileNotFoundError:
            raise ObjectMissing(f"no file {key!r}") from None
        except OSError as exc:
            raise StorageError(f"{exc.strerror or exc}") from None

    async def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            await asyncio.to_thread(os.unlink, path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"{exc.strerror or exc}") from None

    def url(self, key: str) -> str:
        return f"{self.root_url}{self.uri}/{quote(key)}"


def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


@dataclass(frozen=True)
class S3Config:
    endpoint: str
    region: str
    access_key: str
    secret_key: str


@lru_cache(maxsize=8)
def _client(config: S3Config) -> Any:
    credentials: dict[str, str] = {}
    if config.access_key or config.secret_key:  # else boto3's chain (an IAM role...)
        credentials = {"aws_access_key_id": config.access_key,
                       "aws_secret_access_key": config.secret_key}
    return boto3.client(
        "s3", endpoint_url=config.endpoint, region_name=config.region or None,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 3},
                      connect_timeout=10, read_timeout=60),
        **credentials)


def s3_endpoint(settings: AppSettings) -> str:
    """``upload.s3.url`` without its trailing ``/``, or AWS's for the region (listmonk)."""
    url = settings.upload_s3_url.strip().rstrip("/")
    return url or f"https://s3.{settings.upload_s3_aws_default_region}.amazonaws.com"


def expiry_seconds(text: str) -> int:
    """``upload.s3.expiry`` in seconds: listmonk's 167h when unset or below a second, at most
    S3's seven days."""
    try:
        seconds = parse_duration(text.strip()) // 1_000_000_000 if text.strip() else 0
    except ValueError:
        seconds = 0
    if seconds < 1:
        return DEFAULT_EXPIRY_SECONDS
    return min(seconds, MAX_PRESIGN_SECONDS)


@dataclass(frozen=True)
class S3Store:
    """Objects in a bucket of an S3-protocol server (AWS, MinIO, ...), addressed by path as
    listmonk's client does (``<url>/<bucket>/<key>``)."""

    config: S3Config
    bucket: str
    bucket_path: str
    public: bool
    public_url: str
    root_url: str
    expiry: int
    name: str = "s3"

    def key_for(self, filename: str) -> str:
        prefix = self.bucket_path.strip("/")
        return f"{prefix}/{filename}" if prefix else filename

    async def put_new(self, key: str, data: bytes, content_type: str) -> bool:
        return await asyncio.to_thread(self._put_new, key, data, content_type)

    def _put_new(self, key: str, data: bytes, content_type: str) -> bool:
        extra: dict[str, Any] = {"ACL": "public-read"} if self.public else {}
        try:
            _client(self.config).put_object(Bucket=self.bucket, Key=key, Body=data,
                                            ContentType=content_type, IfNoneMatch="*", **extra)
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise StorageError(_describe(exc)) from None
        except BotoCoreError as exc:
            raise StorageError(str(exc)) from None
        return True

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> bytes:
        try:
            found = _client(self.config).get_object(Bucket=self.bucket, Key=key)
            body: bytes = found["Body"].read()
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise ObjectMissing(f"no object {key!r}") from None
            raise StorageError(_describe(exc)) from None
        except BotoCoreError as exc:
            raise StorageError(str(exc)) from None
        return body

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> None:
        try:
            _client(self.config).delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return
            raise StorageError(_describe(exc)) from None
        except BotoCoreError as exc:
            raise StorageError(str(exc)) from None

    def url(self, key: str) -> str:
        """listmonk's: a pre-signed link for a private bucket without a public URL, else the
        public URL (the root URL before one starting with ``/``), else ``<url>/<bucket>/``."""
        if not self.public and not self.public_url:
            link: str = _client(self.config).generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=self.expiry)
            return link
        if self.public_url:
            prefix = self.public_url.rstrip("/")
            if prefix.startswith("/"):
                prefix = self.root_url + prefix
            return f"{prefix}/{quote(key)}"
        return f"{self.config.endpoint}/{self.bucket}/{quote(key)}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")


def store_for(settings: AppSettings, provider: str | None = None) -> MediaStore:
    """The provider ``provider`` (default: ``upload.provider``) with the settings in force."""
    name = provider or settings.upload_provider
    root_url = settings.app_root_url.rstrip("/")
    if name == "s3":
        config = S3Config(endpoint=s3_endpoint(settings),
                          region=settings.upload_s3_aws_default_region,
                          access_key=settings.upload_s3_aws_access_key_id,
                          secret_key=settings.upload_s3_aws_secret_access_key)
        return S3Store(config=config, bucket=settings.upload_s3_bucket,
                       bucket_path=settings.upload_s3_bucket_path,
                       public=settings.upload_s3_bucket_type != "private",
                       public_url=settings.upload_s3_public_url.strip(), root_url=root_url,
                       expiry=expiry_seconds(settings.upload_s3_expiry))
    return FilesystemStore(directory=upload_dir(settings), root_url=root_url,
                           uri=upload_uri(settings))
