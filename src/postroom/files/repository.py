"""Every SQL statement about stored files."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.kit.sql import affected_rows
from postroom.models import StoredFile


def add(session: AsyncSession, stored: StoredFile) -> None:
    session.add(stored)


async def get_file(session: AsyncSession, organization_id: str, file_id: str) -> StoredFile | None:
    statement = select(StoredFile).where(
        StoredFile.id == file_id, StoredFile.organization_id == organization_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_file_of_any_organization(session: AsyncSession, file_id: str) -> StoredFile | None:
    """Only for signed uploads, where the signature, not an API key, names the file."""
    statement = select(StoredFile).where(StoredFile.id == file_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def mark_uploaded(
    session: AsyncSession,
    file_id: str,
    storage_key: str,
    size: int,
    now: datetime,
    expires_at: datetime,
    started_at: datetime,
) -> StoredFile | None:
    """Record the bytes of a grant not used yet whose deadline had not passed at
    ``started_at``; None when there is no such grant."""
    statement = (
        update(StoredFile)
        .where(
            StoredFile.id == file_id,
            StoredFile.uploaded_at.is_(None),
            StoredFile.upload_expires_at > started_at,
        )
        .values(
            storage_key=storage_key,
            size=size,
            uploaded_at=now,
            expires_at=expires_at,
            updated_at=now,
        )
        .returning(StoredFile)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def _usable(now: datetime) -> ColumnElement[bool]:
    return and_(
        StoredFile.uploaded_at.is_not(None),
        or_(StoredFile.referenced_at.is_not(None), StoredFile.expires_at > now),
    )


async def mark_referenced(session: AsyncSession, file_ids: Collection[str], now: datetime) -> int:
    """Keep these files for good; return how many of them were still usable (and are kept)."""
    statement = (
        update(StoredFile)
        .where(StoredFile.id.in_(file_ids), _usable(now))
        .values(referenced_at=func.coalesce(StoredFile.referenced_at, now))
        .execution_options(synchronize_session=False)
    )
    return affected_rows(await session.execute(statement))


def _removable(now: datetime, unused_grant_cutoff: datetime) -> ColumnElement[bool]:
    uploaded_and_expired = and_(StoredFile.uploaded_at.is_not(None), StoredFile.expires_at <= now)
    grant_never_used = and_(
        StoredFile.uploaded_at.is_(None), StoredFile.upload_expires_at <= unused_grant_cutoff
    )
    return and_(StoredFile.referenced_at.is_(None), or_(uploaded_and_expired, grant_never_used))


async def delete_removable_files(
    session: AsyncSession, now: datetime, unused_grant_cutoff: datetime, limit: int
) -> Sequence[str]:
    """Delete up to ``limit`` unreferenced expired files; return their storage keys.

    The condition is checked again by the DELETE itself, so a file referenced meanwhile stays.
    """
    removable = _removable(now, unused_grant_cutoff)
    batch = select(StoredFile.id).where(removable).order_by(StoredFile.id).limit(limit)
    statement = (
        delete(StoredFile)
        .where(StoredFile.id.in_(batch.scalar_subquery()), removable)
        .returning(StoredFile.storage_key)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalars().all()
