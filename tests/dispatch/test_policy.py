"""The retry policy: first retry after 30 s, doubling, at most 1 h apart, give up after 24 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from postroom.config import Settings
from postroom.dispatch.policy import RetryPolicy

FIRST_FAILURE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
DAY = 86400.0


def retry_schedule(policy: RetryPolicy) -> list[datetime]:
    """Every failure time of an email that always fails at once, until the policy gives up."""
    failures = [FIRST_FAILURE]
    while (retry := policy.next_attempt(len(failures), FIRST_FAILURE, failures[-1])) is not None:
        failures.append(retry)
    return failures


def gaps(schedule: list[datetime]) -> list[float]:
    return [(later - earlier).total_seconds() for earlier, later in pairwise(schedule)]


def test_first_retry_is_30_seconds_after_the_first_failure() -> None:
    assert RetryPolicy().delay(1) == 30.0


def test_each_further_retry_waits_twice_as_long() -> None:
    delays = [RetryPolicy().delay(failures) for failures in range(1, 8)]
    assert delays == [30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0]


def test_retries_are_at_most_one_hour_apart() -> None:
    delays = [RetryPolicy().delay(failures) for failures in range(8, 40)]
    assert set(delays) == {3600.0}


def test_delay_stays_capped_after_very_many_failures() -> None:
    assert RetryPolicy(first_delay=1.0, max_delay=1.0).delay(2000) == 1.0


def test_next_attempt_is_the_delay_after_now() -> None:
    now = FIRST_FAILURE + timedelta(minutes=5)
    assert RetryPolicy().next_attempt(3, FIRST_FAILURE, now) == now + timedelta(seconds=120)


def test_a_retry_exactly_24_hours_after_the_first_failure_is_still_made() -> None:
    now = FIRST_FAILURE + timedelta(seconds=DAY - 3600)
    retry = RetryPolicy().next_attempt(20, FIRST_FAILURE, now)
    assert retry == FIRST_FAILURE + timedelta(seconds=DAY)


def test_no_retry_later_than_24_hours_after_the_first_failure() -> None:
    now = FIRST_FAILURE + timedelta(seconds=DAY - 3599)
    assert RetryPolicy().next_attempt(20, FIRST_FAILURE, now) is None


def test_default_schedule_gives_up_after_30_attempts_within_24_hours() -> None:
    failures = retry_schedule(RetryPolicy())
    assert gaps(failures)[:8] == [30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0]
    assert set(gaps(failures)[7:]) == {3600.0}
    assert len(failures) == 30
    assert failures[-1] - FIRST_FAILURE <= timedelta(seconds=DAY)
    assert failures[-1] + timedelta(hours=1) - FIRST_FAILURE > timedelta(seconds=DAY)


def test_default_settings_give_the_default_policy() -> None:
    settings = Settings(database_url="sqlite:///unused.db")
    assert RetryPolicy.from_settings(settings) == RetryPolicy(30.0, 3600.0, DAY)


def test_settings_configure_the_schedule() -> None:
    settings = Settings(
        retry_first_delay_seconds=2.0,
        retry_max_delay_seconds=10.0,
        retry_give_up_after_seconds=30.0,
    )
    assert gaps(retry_schedule(RetryPolicy.from_settings(settings))) == [2.0, 4.0, 8.0, 10.0]
