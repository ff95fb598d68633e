"""Uploaded reissue materials, kept outside the event store and named by content.

Events record a material's sha256 digest; its bytes live in a `MaterialStore`. A
digest names exactly one content, so putting the same file twice changes nothing, and
what is read back is checked against the digest it was asked for. Digests are
validated before they become a path or an object key.

The local store is the default; an S3-compatible one is used when an endpoint is
configured. Stores keep no module-level state and share no clients, so they are safe
in eventlet-patched services.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.common.settings import Secrets, SettingError

DIGEST = re.compile(r"[0-9a-f]{64}")

DEFAULT_MATERIALS_DIR = ".run/materials"
DEFAULT_S3_REGION = "us-east-1"
S3_KEY_PREFIX = "materials"
# S3 answers with these codes for an object (not a bucket) that is not there.
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})

# Bucket names as S3 defines them; stricter stores accept a subset.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class MaterialStoreError(Exception):
    """A material could not be stored or read."""


class InvalidDigest(MaterialStoreError, ValueError):
    """Not a sha256 digest: 64 lowercase hexadecimal characters."""


class MaterialMissing(MaterialStoreError, LookupError):
    """No material is stored under the digest."""


class MaterialCorrupted(MaterialStoreError):
    """What is stored under the digest no longer has that digest."""


class MaterialStoreUnavailable(MaterialStoreError):
    """The storage could not be reached or refused the request."""


class MaterialStore(Protocol):
    def put(self, content: bytes) -> str:
        """Keep `content`; returns its sha256 digest. Putting it again is harmless."""

    def get(self, digest: str) -> bytes:
        """The content stored under `digest`, verified against it."""

    def exists(self, digest: str) -> bool: ...


def digest_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def checked_digest(digest: str) -> str:
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise InvalidDigest(f"not a sha256 digest: {digest!r:.80}")
    return digest


def _verified(digest: str, content: bytes) -> bytes:
    if digest_of(content) != digest:
        raise MaterialCorrupted(f"material {digest} no longer matches its digest")
    return content


class LocalMaterialStore:
    """Files under `root/ab/cd/<digest>`, readable by the service's user only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, content: bytes) -> str:
        digest = digest_of(content)
        path = self._path(digest)
        if not self._holds(path, digest):
            self._write(path, content)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            content = self._path(checked_digest(digest)).read_bytes()
        except FileNotFoundError:
            raise MaterialMissing(f"no material {digest}") from None
        return _verified(digest, content)

    def exists(self, digest: str) -> bool:
        return self._path(checked_digest(digest)).is_file()

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def _holds(self, path: Path, digest: str) -> bool:
        # A damaged copy is replaced, not kept because its name is right.
        try:
            return digest_of(path.read_bytes()) == digest
        except FileNotFoundError:
            return False

    def _write(self, path: Path, content: bytes) -> None:
        """Written whole or not at all: a reader never sees half a file.

        Each writer fills a temporary file of its own beside the target and renames
        it over the target; writers of the same content leave the same bytes.
        """
        self._make_directories(path.parent)
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part"
        )
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        _sync_directory(path.parent)

    def _make_directories(self, shard: Path) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for directory in (shard.parent, shard):
            # Another writer may create it at the same moment.
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=0o700)


def _sync_directory(directory: Path) -> None:
    """The rename itself survives a power cut once its directory is synced."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _s3_client_config() -> Config:
    return Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"mode": "standard", "max_attempts": 4},
        # Path-style addressing works with every S3-compatible server; virtual hosts
        # need DNS for each bucket.
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        # Only what S3 requires: several S3-compatible servers refuse the newer
        # default checksums. Content is verified by its digest on every read.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


class S3MaterialStore:
    """Objects `materials/ab/<digest>` in a bucket of any S3-compatible storage."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
    ) -> None:
        # A session of its own: boto3's default session is shared and not thread-safe.
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        self._client = session.client(
            "s3", endpoint_url=endpoint_url, config=_s3_client_config()
        )
        self.bucket = bucket

    def put(self, content: bytes) -> str:
        digest = digest_of(content)
        if not self.exists(digest):
            # Content-MD5 makes the server refuse a body damaged on the way.
            md5 = hashlib.md5(content, usedforsecurity=False).digest()
            with self._translated(digest):
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=self.key(digest),
                    Body=content,
                    ContentMD5=base64.b64encode(md5).decode("ascii"),
                    ContentType="application/octet-stream",
                )
        return digest

    def get(self, digest: str) -> bytes:
        with self._translated(digest):
            answer = self._client.get_object(Bucket=self.bucket, Key=self.key(digest))
            content = answer["Body"].read()
        return _verified(digest, content)

    def exists(self, digest: str) -> bool:
        try:
            with self._translated(digest):
                self._client.head_object(Bucket=self.bucket, Key=self.key(digest))
        except MaterialMissing:
            return False
        return True

    @staticmethod
    def key(digest: str) -> str:
        digest = checked_digest(digest)
        return f"{S3_KEY_PREFIX}/{digest[:2]}/{digest}"

    @contextlib.contextmanager
    def _translated(self, digest: str) -> Iterator[None]:
        try:
            yield
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in MISSING_OBJECT_CODES:
                raise MaterialMissing(f"no material {digest}") from None
            raise MaterialStoreUnavailable(
                f"S3 bucket {self.bucket} refused the request: {code}"
            ) from error
        except BotoCoreError as error:
            raise MaterialStoreUnavailable(
                f"S3 bucket {self.bucket} cannot be reached: {error}"
            ) from error


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class StorageSettings:
    """Where materials are kept: `directory`, or the S3 bucket when one is set."""

    directory: Path
    s3: S3Settings | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> StorageSettings:
        directory = environ.get("XJCERT_MATERIALS_DIR") or DEFAULT_MATERIALS_DIR
        s3 = (
            _s3_settings(environ)
            if environ.get("XJCERT_MATERIALS_S3_ENDPOINT")
            else None
        )
        return cls(Path(directory), s3)


def material_store(settings: StorageSettings) -> MaterialStore:
    if settings.s3 is None:
        return LocalMaterialStore(settings.directory)
    return S3MaterialStore(
        endpoint_url=settings.s3.endpoint_url,
        bucket=settings.s3.bucket,
        region=settings.s3.region,
        access_key_id=settings.s3.access_key_id,
        secret_access_key=settings.s3.secret_access_key,
    )


def _s3_settings(environ: Mapping[str, str]) -> S3Settings:
    return S3Settings(
        endpoint_url=_endpoint(environ["XJCERT_MATERIALS_S3_ENDPOINT"]),
        bucket=_bucket(environ.get("XJCERT_MATERIALS_S3_BUCKET", "")),
        region=_region(environ.get("XJCERT_MATERIALS_S3_REGION") or DEFAULT_S3_REGION),
        access_key_id=_key_from_file(environ, "materials_s3_access_key"),
        secret_access_key=_key_from_file(environ, "materials_s3_secret_key"),
    )


def _endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingError(
            "XJCERT_MATERIALS_S3_ENDPOINT must be an http:// or https:// URL such as "
            f"https://s3.example.internal:9000, got scheme {parts.scheme!r}"
        )
    return url


def _bucket(name: str) -> str:
    if not BUCKET_NAME.fullmatch(name):
        raise SettingError(
            "XJCERT_MATERIALS_S3_BUCKET must name the bucket: 3 to 63 lowercase "
            f"letters, digits, dots or hyphens, got {name!r}"
        )
    return name


def _region(name: str) -> str:
    if not REGION_NAME.fullmatch(name):
        raise SettingError(
            f"XJCERT_MATERIALS_S3_REGION must be a region name like "
            f"{DEFAULT_S3_REGION}, got {name!r}"
        )
    return name


def _key_from_file(environ: Mapping[str, str], name: str) -> str:
    """A key read from the file its variable names; keys never sit in the env."""
    variable = f"XJCERT_{name.upper()}_FILE"
    raw = Secrets({variable: environ.get(variable, "")}).read(name)
    try:
        key = raw.decode("ascii")
    except UnicodeDecodeError:
        raise SettingError(f"{variable} names a file that is not plain ASCII") from None
    if not key:
        raise SettingError(f"{variable} names an empty file")
    return key
