import hashlib
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.reissue.storage import (
    InvalidDigest,
    LocalMaterialStore,
    MaterialCorrupted,
    MaterialMissing,
)

LETTER = b"%PDF-1.7 a commitment letter, as bytes %%EOF"
DIGEST = hashlib.sha256(LETTER).hexdigest()

BAD_DIGESTS = [
    "",
    "abc",
    DIGEST.upper(),
    DIGEST[:-1],
    DIGEST + "0",
    DIGEST + "\n",
    "g" * 64,
    "../" + DIGEST[3:],
    "/" + DIGEST[1:],
    DIGEST[:30] + "/." + DIGEST[32:],
    None,
]


@pytest.fixture
def store(tmp_path):
    return LocalMaterialStore(tmp_path / "materials")


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_what_is_put_is_got_back_by_its_digest(store):
    digest = store.put(LETTER)

    assert digest == DIGEST
    assert store.exists(digest)
    assert store.get(digest) == LETTER


def test_files_are_sharded_by_the_leading_digits_of_their_digest(store):
    store.put(LETTER)

    path = store.root / DIGEST[:2] / DIGEST[2:4] / DIGEST
    assert path.read_bytes() == LETTER


def test_putting_the_same_content_again_changes_nothing(store):
    first = store.put(LETTER)
    second = store.put(LETTER)

    assert first == second == DIGEST
    shard = store.root / DIGEST[:2] / DIGEST[2:4]
    assert [path.name for path in shard.iterdir()] == [DIGEST]


def test_files_and_directories_are_private_to_the_service(store):
    store.put(LETTER)

    shard = store.root / DIGEST[:2] / DIGEST[2:4]
    assert mode_of(store.root) == 0o700
    assert mode_of(shard.parent) == 0o700
    assert mode_of(shard) == 0o700
    assert mode_of(shard / DIGEST) == 0o600


def test_writers_of_the_same_content_at_once_leave_one_whole_file(store):
    content = bytes(range(256)) * 4096

    with ThreadPoolExecutor(max_workers=8) as pool:
        digests = set(pool.map(lambda _: store.put(content), range(32)))

    assert digests == {hashlib.sha256(content).hexdigest()}
    digest = digests.pop()
    assert store.get(digest) == content
    shard = store.root / digest[:2] / digest[2:4]
    assert [path.name for path in shard.iterdir()] == [digest]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_anything_but_a_sha256_digest_is_refused(store, digest):
    with pytest.raises(InvalidDigest):
        store.get(digest)
    with pytest.raises(InvalidDigest):
        store.exists(digest)


def test_a_corrupted_file_is_refused_on_reading(store):
    store.put(LETTER)
    path = store.root / DIGEST[:2] / DIGEST[2:4] / DIGEST
    path.write_bytes(LETTER.replace(b"commitment", b"falsified!"))

    with pytest.raises(MaterialCorrupted):
        store.get(DIGEST)


def test_putting_the_content_again_repairs_a_corrupted_file(store):
    store.put(LETTER)
    path = store.root / DIGEST[:2] / DIGEST[2:4] / DIGEST
    path.write_bytes(b"damaged")

    store.put(LETTER)

    assert store.get(DIGEST) == LETTER
    assert mode_of(path) == 0o600


def test_a_digest_never_put_is_missing(store):
    store.put(LETTER)
    other = hashlib.sha256(b"another letter").hexdigest()

    assert not store.exists(other)
    with pytest.raises(MaterialMissing):
        store.get(other)
