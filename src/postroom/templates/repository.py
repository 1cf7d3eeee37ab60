"""Every SQL statement about email templates.

A user sees the organization's shared templates and their own: a template that is not shared
belongs to the user who created it, and is not there for anyone else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.kit.sql import for_change
from postroom.models import EmailTemplate


@dataclass(frozen=True)
class TemplateFilter:
    """``None`` means "either"."""

    is_archived: bool | None = None
    is_shared: bool | None = None


def _visible(organization_id: str, user_id: str) -> ColumnElement[bool]:
    """The organization's shared templates and the user's own."""
    return (EmailTemplate.organization_id == organization_id) & or_(
        EmailTemplate.is_shared.is_(True), EmailTemplate.created_by == user_id
    )


async def get_template(
    session: AsyncSession,
    organization_id: str,
    user_id: str,
    template_id: str,
    locked: bool = False,
) -> EmailTemplate | None:
    """The template if ``user_id`` may see it; ``locked``: for a change
    (``kit.sql.for_change``)."""
    statement = select(EmailTemplate).where(
        EmailTemplate.id == template_id, _visible(organization_id, user_id)
    )
    return (await session.execute(for_change(statement, locked))).scalar_one_or_none()


async def list_templates(
    session: AsyncSession,
    organization_id: str,
    user_id: str,
    where: TemplateFilter,
    skip: int,
    limit: int,
) -> Sequence[EmailTemplate]:
    """A page of the templates ``user_id`` may see, newest first."""
    statement = select(EmailTemplate).where(_visible(organization_id, user_id))
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
