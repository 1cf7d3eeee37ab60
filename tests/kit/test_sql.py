"""Database conflicts that the database resolved by aborting us are retried."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from postroom.kit.sql import is_retryable, retrying


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def conflict(sqlstate: str) -> DBAPIError:
    return OperationalError("UPDATE ...", {}, PgError(sqlstate))


@pytest.mark.parametrize("sqlstate", ["40P01", "40001", "55P03"])
def test_deadlocks_and_serialization_failures_are_retryable(sqlstate: str) -> None:
    assert is_retryable(conflict(sqlstate))


def test_sqlite_busy_is_retryable() -> None:
    assert is_retryable(OperationalError("x", {}, Exception("database is locked")))


def test_other_errors_are_not_retryable() -> None:
    assert not is_retryable(conflict("23505"))
    assert not is_retryable(ValueError("x"))


async def test_retrying_runs_the_work_again_after_a_deadlock() -> None:
    calls: list[int] = []

    async def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise conflict("40P01")
        return "done"

    assert await retrying(work) == "done"
    assert len(calls) == 3


async def test_retrying_gives_up_and_does_not_retry_other_errors() -> None:
    async def unique_violation() -> None:
        raise conflict("23505")

    with pytest.raises(OperationalError):
        await retrying(unique_violation)
