"""Local-disk storage: all-or-nothing writes, a size limit, keys that cannot leave the root."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from postroom.files.storage import (
    CHUNK_BYTES,
    FileStorage,
    FileTooLarge,
    LocalDiskStorage,
    MissingFile,
    new_storage_key,
)


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def read_all(storage: FileStorage, key: str) -> bytes:
    return b"".join([chunk async for chunk in await storage.open(key)])


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


@pytest.fixture
def storage(tmp_path: Path) -> LocalDiskStorage:
    return LocalDiskStorage(tmp_path / "files")


async def test_saved_bytes_read_back_identical(storage: LocalDiskStorage) -> None:
    key = new_storage_key()
    size = await storage.save(key, chunks_of(b"hello ", b"world"), limit=100)
    assert size == 11
    assert await read_all(storage, key) == b"hello world"


async def test_large_file_is_read_back_in_chunks(storage: LocalDiskStorage) -> None:
    key, content = new_storage_key(), bytes(range(256)) * 1024
    await storage.save(key, chunks_of(content), limit=len(content))
    chunks = [chunk async for chunk in await storage.open(key)]
    assert len(chunks) == len(content) // CHUNK_BYTES
    assert b"".join(chunks) == content


async def test_file_at_the_limit_is_kept(storage: LocalDiskStorage) -> None:
    key = new_storage_key()
    assert await storage.save(key, chunks_of(b"12345", b"67890"), limit=10) == 10
    assert await read_all(storage, key) == b"1234567890"


async def test_file_over_the_limit_is_refused_and_nothing_is_kept(
    storage: LocalDiskStorage,
) -> None:
    key = new_storage_key()
    with pytest.raises(FileTooLarge):
        await storage.save(key, chunks_of(b"12345", b"678901"), limit=10)
    assert files_under(storage.root) == []
    with pytest.raises(MissingFile):
        await storage.open(key)


async def test_interrupted_upload_leaves_nothing_behind(storage: LocalDiskStorage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    key = new_storage_key()
    with pytest.raises(ConnectionResetError):
        await storage.save(key, broken(), limit=100)
    assert files_under(storage.root) == []


async def test_opening_an_unknown_key_raises_missing_file(storage: LocalDiskStorage) -> None:
    with pytest.raises(MissingFile):
        await storage.open(new_storage_key())


async def test_deleted_file_is_gone_and_deleting_twice_is_harmless(
    storage: LocalDiskStorage,
) -> None:
    key = new_storage_key()
    await storage.save(key, chunks_of(b"bytes"), limit=100)
    await storage.delete(key)
    await storage.delete(key)
    with pytest.raises(MissingFile):
        await storage.open(key)


async def test_files_live_under_the_root(storage: LocalDiskStorage) -> None:
    keys = [new_storage_key() for _ in range(3)]
    for key in keys:
        await storage.save(key, chunks_of(key.encode()), limit=100)
    stored = files_under(storage.root)
    assert len(stored) == 3
    assert {path.name for path in stored} == set(keys)


def bad_keys() -> Iterable[str]:
    return [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd-xxxxxxxx",
        "/etc/passwd-xxxxxxxxxxxxxxx",
        "aaaaaaaaaaaaaaaa/../../../x",
        "..",
        "",
        "a" * 16 + "\x00",
        "short",
    ]


@pytest.mark.parametrize("key", bad_keys())
async def test_keys_that_could_leave_the_root_are_refused(
    storage: LocalDiskStorage, tmp_path: Path, key: str
) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.save(key, chunks_of(b"owned"), limit=100)
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.open(key)
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.delete(key)
    assert files_under(tmp_path) == []


def test_generated_keys_are_accepted_and_distinct(storage: LocalDiskStorage) -> None:
    keys = {new_storage_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert storage.path_of(key).parent.parent == storage.root
