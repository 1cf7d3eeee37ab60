"""Which status a lead create or update names, from ``status_label``, ``status`` and
``status_id``. Never commits.

Statuses are labels here (``status_id`` is derived from the organization and the label), so
a status exists when a lead of the organization has it, or it is the default. Posting a new
label makes a new status (a known limit); a ``status_id`` must name an existing status, or the
label posted with it. Blank or null labels and ids are field errors, and the fields sent must
all name the same status.

The organization's statuses (``lead_statuses`` of ``GET /organization/{id}/``) are the default
first, as Close's default status is its organization's first, then every other label its leads
have, alphabetically (``kit.text.sort_key``): Postroom stores no order of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.errors import ValidationFailed
from postroom.kit.text import sort_key
from postroom.leads import repository
from postroom.leads.schemas import LeadFields, status_id_for

DEFAULT_STATUS = "Potential"
LABEL_FIELDS = ("status_label", "status")


@dataclass(frozen=True)
class LeadStatus:
    """A status a lead of the organization can have: ``id`` is the ``status_id`` such a lead
    shows."""

    id: str
    label: str


async def organization_statuses(session: AsyncSession, organization_id: str) -> list[LeadStatus]:
    """The default status, then every other label the organization's leads have, by label."""
    labels = set(await repository.status_labels(session, organization_id)) - {DEFAULT_STATUS}
    ordered = [DEFAULT_STATUS, *sorted(labels, key=sort_key)]
    return [LeadStatus(status_id_for(organization_id, label), label) for label in ordered]


def _posted_labels(body: LeadFields) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name in LABEL_FIELDS:
        if name not in body.model_fields_set:
            continue
        value = getattr(body, name)
        if value is None or not value.strip():
            raise ValidationFailed.field(name, "A lead's status cannot be empty.")
        labels[name] = value
    return labels


async def _label_of_status_id(
    session: AsyncSession, organization_id: str, status_id: str | None, posted: set[str]
) -> str:
    if status_id is None or not status_id.strip():
        raise ValidationFailed.field("status_id", "A lead's status cannot be empty.")
    known = posted | {DEFAULT_STATUS}
    known |= set(await repository.status_labels(session, organization_id))
    for label in known:
        if status_id_for(organization_id, label) == status_id:
            return label
    raise ValidationFailed.field("status_id", "Status not found.")


async def named_status(session: AsyncSession, organization_id: str, body: LeadFields) -> str | None:
    """The label the body names, or None when it names no status."""
    named = _posted_labels(body)
    if "status_id" in body.model_fields_set:
        posted = set(named.values())
        named["status_id"] = await _label_of_status_id(
            session, organization_id, body.status_id, posted
        )
    labels = set(named.values())
    if len(labels) > 1:
        fields = " and ".join(named)
        raise ValidationFailed.field(list(named)[-1], f"{fields} name different statuses.")
    return labels.pop() if labels else None
