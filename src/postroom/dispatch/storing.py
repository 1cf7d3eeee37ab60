"""Writing delivery outcomes: each email's row, its ``activity.email`` event, and the health
of the connected account it went through.

The dispatcher writes the outcomes of its own deliveries in group commits (``store_group``:
together, and one by one if that fails); recovery writes those of dead workers' emails
(``dispatch.recovery``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from postroom.accounts import repository as account_repository
from postroom.db import Database
from postroom.dispatch import outcomes
from postroom.dispatch import repository as repo
from postroom.emails import repository as email_repository
from postroom.emails.event_log import EMAIL
from postroom.emails.rendering import render_email, user_ids_of
from postroom.emails.states import EmailStatus
from postroom.events.service import Change, Origin, record_many
from postroom.kit.sql import is_unavailable

logger = logging.getLogger("postroom.dispatch")


async def store_group(
    database: Database, worker_id: str, results: list[dict[str, Any]]
) -> list[Exception | None]:
    """Store ``results`` in one transaction (``store_outcomes``); return each one's failure
    (None: stored, or left to the claim that holds the email now).

    If that transaction fails for anything but the database being unavailable (a value of one
    outcome that the database refuses), each outcome is stored in a transaction of its own,
    so that only those that cannot be stored fail. That is safe: an outcome is written only
    under the claim it was made under, so one that the failed transaction wrote after all is
    not written again."""
    try:
        await _store(database, worker_id, results)
    except Exception as error:
        if len(results) == 1 or is_unavailable(error):
            raise
        logger.warning(
            "%d outcomes could not be stored together (%s: %s); storing them one by one",
            len(results), type(error).__name__, error,
        )  # fmt: skip
        return await _one_by_one(database, worker_id, results)
    return [None] * len(results)


async def _one_by_one(
    database: Database, worker_id: str, results: list[dict[str, Any]]
) -> list[Exception | None]:
    """A database that becomes unavailable meanwhile fails the outcomes not yet stored with
    that error (they are stored again later), rather than each waiting for it in turn."""
    failures: list[Exception | None] = []
    for index, result in enumerate(results):
        try:
            await _store(database, worker_id, [result])
        except Exception as error:
            if is_unavailable(error):
                return [*failures, *[error] * (len(results) - index)]
            failures.append(error)
        else:
            failures.append(None)
    return failures


async def _store(database: Database, worker_id: str, results: list[dict[str, Any]]) -> None:
    await database.run(lambda session: store_outcomes(session, worker_id, results))


async def store_outcomes(
    session: AsyncSession, worker_id: str, results: list[dict[str, Any]]
) -> list[str]:
    """Write the outcomes of the emails this worker still holds under the same claim, and
    their events; return their ids. An email another worker took over (our lease had expired),
    or this worker claimed again since, is left to that claim: its row and its events are
    that claim's to write."""
    held = await repo.still_held(session, worker_id, [result["id"] for result in results])
    ours = [result for result in results if _same_claim(held.get(result["id"]), result)]
    await repo.write_outcomes(session, worker_id, ours)
    await record_outcome_events(
        session,
        [(held[result["id"]], repo.stored_outcome(held[result["id"]], result)) for result in ours],
    )
    await record_account_health(session, ours)
    if any(result["status"] in repo.QUEUED_VALUES for result in ours):
        await repo.signal_due_change(session)  # a retry: due again later
    return [result["id"] for result in ours]


def _same_claim(row: dict[str, Any] | None, result: dict[str, Any]) -> bool:
    """The row is still held under the claim the outcome was made under."""
    return row is not None and row["claimed_at"] == result[outcomes.CLAIM]


async def record_account_health(session: AsyncSession, results: list[dict[str, Any]]) -> None:
    """Each connected account's ``send_status`` and ``latest_send_error`` as the last of these
    deliveries through it left them."""
    latest = {
        health.account_id: health
        for result in results
        if (health := result.get(outcomes.ACCOUNT_HEALTH)) is not None
    }
    for health in latest.values():
        await account_repository.record_send_status(
            session, health.account_id, health.send_status, health.latest_send_error
        )


async def record_outcome_events(
    session: AsyncSession, emails: Sequence[tuple[Mapping[str, Any], dict[str, Any]]]
) -> None:
    """``activity.email`` ``sent`` for delivered emails, ``updated`` for the others: each
    email as its outcome left it (``repo.stored_outcome``), with the fields the outcome
    changed and their values as the held row had them (``changed_fields``,
    ``previous_data``), as every other change of an email records them."""
    if not emails:
        return
    user_ids = set().union(*(user_ids_of(after) for _before, after in emails))
    names = await email_repository.user_names(session, user_ids)
    changes = [
        (
            Origin(after["organization_id"]),
            Change(
                EMAIL,
                "sent" if after["status"] == EmailStatus.SENT else "updated",
                after["id"],
                after["lead_id"],
                render_email(after, names),
                render_email(before, names),
            ),
        )
        for before, after in emails
    ]
    await record_many(session, changes)
