"""The S3 material store against a real S3-compatible server: moto's, on a free port."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from services.common.settings import SettingError
from services.reissue.storage import (
    InvalidDigest,
    LocalMaterialStore,
    MaterialCorrupted,
    MaterialMissing,
    MaterialStoreUnavailable,
    S3MaterialStore,
    StorageSettings,
    material_store,
)
from tests.support.infrastructure import eventually
from tests.support.processes import ROOT, free_port

ACCESS_KEY_ID = "xjcert-materials"
SECRET_ACCESS_KEY = "not-a-real-secret-key"
REGION = "us-east-1"
PHOTO = b"\xff\xd8\xff\xe0 a one-inch photo, as bytes"
DIGEST = hashlib.sha256(PHOTO).hexdigest()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _answers(server, url), timeout=60, what="the S3 server")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _answers(server: subprocess.Popen, url: str) -> bool:
    if server.poll() is not None:
        raise AssertionError(f"the S3 server exited with {server.returncode}")
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.ConnectionError:
        return False


@pytest.fixture
def client(endpoint):
    return boto3.session.Session(
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name=REGION,
    ).client("s3", endpoint_url=endpoint)


@pytest.fixture
def bucket(client):
    name = f"materials-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


def s3_store(endpoint: str, bucket: str) -> S3MaterialStore:
    return S3MaterialStore(
        endpoint_url=endpoint,
        bucket=bucket,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )


@pytest.fixture
def store(endpoint, bucket):
    return s3_store(endpoint, bucket)


def stored_keys(client, bucket: str) -> list[str]:
    listing = client.list_objects_v2(Bucket=bucket)
    return [entry["Key"] for entry in listing.get("Contents", [])]


def test_what_is_put_is_got_back_by_its_digest(store, client, bucket):
    digest = store.put(PHOTO)

    assert digest == DIGEST
    assert store.exists(digest)
    assert store.get(digest) == PHOTO
    assert stored_keys(client, bucket) == [f"materials/{DIGEST[:2]}/{DIGEST}"]


def test_putting_the_same_content_again_keeps_one_object(store, client, bucket):
    assert store.put(PHOTO) == store.put(PHOTO) == DIGEST

    assert stored_keys(client, bucket) == [f"materials/{DIGEST[:2]}/{DIGEST}"]


def test_a_digest_never_put_is_missing(store):
    store.put(PHOTO)
    other = hashlib.sha256(b"another photo").hexdigest()

    assert not store.exists(other)
    with pytest.raises(MaterialMissing):
        store.get(other)


def test_an_object_overwritten_with_other_bytes_is_refused(store, client, bucket):
    store.put(PHOTO)
    client.put_object(
        Bucket=bucket, Key=S3MaterialStore.key(DIGEST), Body=b"someone else's photo"
    )

    assert store.exists(DIGEST)
    with pytest.raises(MaterialCorrupted):
        store.get(DIGEST)


@pytest.mark.parametrize("digest", ["", DIGEST.upper(), "../" + DIGEST[3:], None])
def test_anything_but_a_sha256_digest_is_refused(store, digest):
    with pytest.raises(InvalidDigest):
        store.get(digest)
    with pytest.raises(InvalidDigest):
        store.exists(digest)


def test_a_missing_bucket_is_not_mistaken_for_a_missing_material(endpoint):
    store = s3_store(endpoint, f"absent-{uuid.uuid4().hex[:12]}")

    with pytest.raises(MaterialStoreUnavailable, match="NoSuchBucket"):
        store.put(PHOTO)
    with pytest.raises(MaterialStoreUnavailable, match="NoSuchBucket"):
        store.get(DIGEST)


@pytest.fixture
def key_files(tmp_path):
    access, secret = tmp_path / "access-key", tmp_path / "secret-key"
    access.write_text(ACCESS_KEY_ID + "\n")
    secret.write_text(SECRET_ACCESS_KEY + "\n")
    return {
        "XJCERT_MATERIALS_S3_ACCESS_KEY_FILE": str(access),
        "XJCERT_MATERIALS_S3_SECRET_KEY_FILE": str(secret),
    }


def test_without_an_s3_endpoint_materials_are_kept_on_local_disk():
    settings = StorageSettings.from_environ({"XJCERT_MATERIALS_S3_BUCKET": "ignored"})

    assert settings == StorageSettings(Path(".run/materials"))
    assert isinstance(material_store(settings), LocalMaterialStore)


def test_the_local_directory_is_read_from_the_environment(tmp_path):
    settings = StorageSettings.from_environ({"XJCERT_MATERIALS_DIR": str(tmp_path)})
    store = material_store(settings)

    assert store.get(store.put(PHOTO)) == PHOTO
    assert (tmp_path / DIGEST[:2] / DIGEST[2:4] / DIGEST).read_bytes() == PHOTO


def test_with_an_s3_endpoint_materials_go_to_its_bucket(
    endpoint, bucket, client, key_files
):
    settings = StorageSettings.from_environ(
        {
            "XJCERT_MATERIALS_S3_ENDPOINT": endpoint,
            "XJCERT_MATERIALS_S3_BUCKET": bucket,
            **key_files,
        }
    )
    store = material_store(settings)

    assert settings.s3 is not None
    assert settings.s3.region == "us-east-1"
    assert settings.s3.access_key_id == ACCESS_KEY_ID
    assert settings.s3.secret_access_key == SECRET_ACCESS_KEY
    assert SECRET_ACCESS_KEY not in repr(settings)
    assert isinstance(store, S3MaterialStore)
    assert store.get(store.put(PHOTO)) == PHOTO
    assert stored_keys(client, bucket) == [f"materials/{DIGEST[:2]}/{DIGEST}"]


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"XJCERT_MATERIALS_S3_ENDPOINT": "s3.internal:9000"}, "S3_ENDPOINT"),
        ({"XJCERT_MATERIALS_S3_BUCKET": ""}, "S3_BUCKET"),
        ({"XJCERT_MATERIALS_S3_BUCKET": "Materials_2024"}, "S3_BUCKET"),
        ({"XJCERT_MATERIALS_S3_REGION": "cn north"}, "S3_REGION"),
        ({"XJCERT_MATERIALS_S3_ACCESS_KEY_FILE": ""}, "S3_ACCESS_KEY_FILE"),
        ({"XJCERT_MATERIALS_S3_SECRET_KEY_FILE": "/nonexistent"}, "S3_SECRET_KEY_FILE"),
    ],
)
def test_a_missing_or_malformed_s3_setting_names_its_variable(
    key_files, change, variable
):
    environ = {
        "XJCERT_MATERIALS_S3_ENDPOINT": "https://s3.internal:9000",
        "XJCERT_MATERIALS_S3_BUCKET": "xjcert-materials",
        **key_files,
        **change,
    }

    with pytest.raises(SettingError, match=f"XJCERT_MATERIALS_{variable}"):
        StorageSettings.from_environ(environ)


def test_an_empty_key_file_is_refused(key_files, tmp_path):
    empty = tmp_path / "empty-key"
    empty.write_text("\n")
    environ = {
        "XJCERT_MATERIALS_S3_ENDPOINT": "https://s3.internal:9000",
        "XJCERT_MATERIALS_S3_BUCKET": "xjcert-materials",
        **key_files,
        "XJCERT_MATERIALS_S3_SECRET_KEY_FILE": str(empty),
    }

    with pytest.raises(SettingError, match="XJCERT_MATERIALS_S3_SECRET_KEY_FILE"):
        StorageSettings.from_environ(environ)


def test_well_formed_s3_settings_are_accepted(key_files):
    settings = StorageSettings.from_environ(
        {
            "XJCERT_MATERIALS_S3_ENDPOINT": "https://s3.internal:9000",
            "XJCERT_MATERIALS_S3_BUCKET": "xjcert-materials",
            "XJCERT_MATERIALS_S3_REGION": "cn-northwest-1",
            **key_files,
        }
    )

    assert settings.s3 is not None
    assert settings.s3.endpoint_url == "https://s3.internal:9000"
    assert settings.s3.bucket == "xjcert-materials"
    assert settings.s3.region == "cn-northwest-1"
