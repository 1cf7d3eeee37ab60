"""The declarative base, with a naming convention so both engines get stable constraint names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from postroom.kit.datetimes import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class IdMixin:
    id: Mapped[str] = mapped_column(String(64), primary_key=True)


def _created_at(context: DefaultExecutionContext) -> datetime:
    """A new row's ``updated_at`` is its ``created_at``: two readings of the clock put a new
    object's ``date_updated`` a few microseconds after its ``date_created``."""
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    created: datetime = parameters["created_at"]
    return created


class TimestampsMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=_created_at)
