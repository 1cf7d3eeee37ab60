"""Rules about the unsubscribe list. Never commits.

- One row per organization and address; addresses are stored bare and lower-case, so every
  comparison is case-insensitive. Adding an address already there changes nothing and answers
  the row that is there (no event).
- Each address added records an ``unsubscribed_email`` ``created`` event, each address removed
  (resubscribed) a ``deleted`` one; ``lead_id`` is null: the list belongs to the organization.
- Contacts do not store ``is_unsubscribed``: it is read from this list (``unsubscribed_among``),
  and a contact email posted with ``is_unsubscribed: true`` adds its address here.
- Delivery does not read the list: Close applies it to bulk emails and sequences, which
  Postroom does not have; one-off emails go to the addresses they name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts.schemas import contact_addresses
from postroom.errors import NotFound
from postroom.events.service import Change, Origin, record_many
from postroom.kit.addresses import normalized_address
from postroom.kit.datetimes import utcnow
from postroom.kit.ids import new_id
from postroom.models import Contact, UnsubscribedEmail
from postroom.unsubscribes import repository
from postroom.unsubscribes.schemas import render_unsubscribed_email
from postroom.users.auth import Caller

MODEL = "UnsubscribedEmail"
OBJECT_TYPE = "unsubscribed_email"


def change(row: UnsubscribedEmail, action: str) -> Change:
    return Change(OBJECT_TYPE, action, row.id, None, render_unsubscribed_email(row))


async def list_unsubscribed(
    session: AsyncSession, caller: Caller, skip: int, limit: int
) -> Sequence[UnsubscribedEmail]:
    return await repository.list_unsubscribed(session, caller.organization_id, skip, limit)


async def add_addresses(
    session: AsyncSession, caller: Caller, addresses: Collection[str]
) -> Sequence[UnsubscribedEmail]:
    """Put the (lower-case) ``addresses`` on the caller's list, each once, with an event for
    each address that was not there yet; the rows added."""
    now = utcnow()
    rows = [
        {"id": new_id("unsub"), "organization_id": caller.organization_id, "email": email,
         "created_by": caller.user_id, "created_at": now}
        for email in sorted(set(addresses))
    ]  # fmt: skip
    added = await repository.insert_absent(session, rows)
    origin = Origin.of(caller)
    await record_many(session, [(origin, change(row, "created")) for row in added])
    return added


async def unsubscribe(session: AsyncSession, caller: Caller, email: str) -> UnsubscribedEmail:
    """Add ``email`` (already normalized) to the list, or find it there; the row. (Only a
    resubscribe committed between the two statements could leave nothing to find: a 404.)"""
    added = await add_addresses(session, caller, [email])
    if added:
        return added[0]
    row = await repository.get_unsubscribed(session, caller.organization_id, email)
    if row is None:
        raise NotFound(MODEL)
    return row


async def resubscribe(session: AsyncSession, caller: Caller, address: str) -> None:
    """Take ``address`` off the list (compared case-insensitively); 404 when it is not on it."""
    row = await _listed(session, caller, address)
    if not await repository.delete_unsubscribed(session, row):
        raise NotFound(MODEL)  # a resubscribe at the same moment took it off: one event only
    await record_many(session, [(Origin.of(caller), change(row, "deleted"))])


async def _listed(session: AsyncSession, caller: Caller, address: str) -> UnsubscribedEmail:
    try:
        email = normalized_address(address)
    except ValueError as error:  # not an address: certainly not on the list
        raise NotFound(MODEL) from error
    row = await repository.get_unsubscribed(session, caller.organization_id, email)
    if row is None:
        raise NotFound(MODEL)
    return row


async def unsubscribed_among(
    session: AsyncSession, organization_id: str, addresses: Collection[str]
) -> frozenset[str]:
    """Which of ``addresses`` are on the organization's list (lower-case; one query for a
    page of contacts, none when there is no address)."""
    return await repository.unsubscribed_among(
        session, organization_id, {address.lower() for address in addresses}
    )


async def unsubscribed_of(
    session: AsyncSession, organization_id: str, contacts: Iterable[Contact]
) -> frozenset[str]:
    """The addresses of ``contacts`` that are on the organization's unsubscribe list."""
    return await unsubscribed_among(session, organization_id, contact_addresses(contacts))
