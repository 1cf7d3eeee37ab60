"""``organization_id`` in a request body: Close's import override on emails, and a field of
every object a client may post back whole. It may name the caller's organization only.

An absent or ``null`` value is the caller's organization; any other value than its id is a
400 on ``organization_id`` (``Organization not found.``, whether that organization exists
or not), and nothing is created or changed. Before, every body but an email's ignored it,
so a lead posted "into" another organization was silently created in the caller's.
"""

from __future__ import annotations

from pydantic import Field

from postroom.errors import ValidationFailed
from postroom.kit.schemas import RequestModel

ORGANIZATION_NOT_FOUND = "Organization not found."


class PostedOrganization(RequestModel):
    """A request body that may carry ``organization_id``."""

    organization_id: str | None = Field(default=None, max_length=64)


def organization_problem(body: PostedOrganization, own: str) -> str | None:
    """Why the body's ``organization_id`` is refused, or None when it may stand."""
    if body.organization_id is None or body.organization_id == own:
        return None
    return ORGANIZATION_NOT_FOUND


def check_posted_organization(body: PostedOrganization, own: str) -> None:
    """Raise the 400 on ``organization_id`` when the body names another organization."""
    problem = organization_problem(body, own)
    if problem is not None:
        raise ValidationFailed.field("organization_id", problem)
