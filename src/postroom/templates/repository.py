"""Every SQL statement about email templates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.models import EmailTemplate


@dataclass(frozen=True)
class TemplateFilter:
    """``None`` means "either"."""

    is_archived: bool | None = None
    is_shared: bool | None = None


async def get_template(
    session: AsyncSession, organization_id: str, template_id: str
) -> EmailTemplate | None:
    statement = select(EmailTemplate).where(
        EmailTemplate.id == template_id, EmailTemplate.organization_id == organization_id
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def list_templates(
    session: AsyncSession,
    organization_id: str,
    where: TemplateFilter,
    skip: int,
    limit: int,
) -> Sequence[EmailTemplate]:
    """A page of the organization's templates, newest first."""
    statement = select(EmailTemplate).where(EmailTemplate.organization_id == organization_id)
    if where.is_archived is not None:
        statement = statement.where(EmailTemplate.is_archived == where.is_archived)
    if where.is_shared is not None:
        statement = statement.where(EmailTemplate.is_shared == where.is_shared)
    statement = statement.order_by(EmailTemplate.created_at.desc(), EmailTemplate.id.desc())
    return (await session.execute(statement.offset(skip).limit(limit))).scalars().all()


async def delete_template(session: AsyncSession, template: EmailTemplate) -> None:
    await session.execute(delete(EmailTemplate).where(EmailTemplate.id == template.id))


def add(session: AsyncSession, template: EmailTemplate) -> None:
    session.add(template)
