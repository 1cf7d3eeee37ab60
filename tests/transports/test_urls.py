"""Transport URLs: what ``POSTROOM_SMTP_URL`` and sending accounts accept, and what a mistyped
one does (the server refuses to start; it does not fail every delivery afterwards)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from postroom.config import Settings
from postroom.transports.urls import smtp_settings_from_url


def test_options_of_an_smtp_url_are_read() -> None:
    smtp = smtp_settings_from_url(
        "smtp://ann%40x:p%3Ass@mail.example.com?connections=8&timeout=2.5"
    )
    assert (smtp.host, smtp.port, smtp.security) == ("mail.example.com", 25, "none")
    assert (smtp.username, smtp.password) == ("ann@x", "p:ss")
    assert (smtp.max_connections, smtp.timeout) == (8, 2.5)
    assert smtp_settings_from_url("smtps://mail.example.com").port == 465
    assert smtp_settings_from_url("smtp://mail.example.com").helo_name is None
    named = smtp_settings_from_url("smtp://mail.example.com?helo=crm.sender.example.com")
    assert named.helo_name == "crm.sender.example.com"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("smtp://mail.example.com?connections=0", "connections='0' must be a number above 0"),
        ("smtp://mail.example.com?connections=many", "connections='many'"),
        ("smtp://mail.example.com?timeout=-1", "timeout='-1' must be a number above 0"),
        ("smtp://mail.example.com?timeout=5?connections=2", "timeout='5?connections=2'"),
        ("smtp://mail.example.com:99999", "Port out of range"),
        ("http://mail.example.com", "an SMTP URL looks like smtp://"),
        ("smtp://mail.example.com?helo=two%20words", "helo='two words' must be a host name"),
    ],
)
def test_a_mistyped_smtp_url_is_refused_with_what_is_wrong(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint.replace("?", r"\?")):
        smtp_settings_from_url(url)


def test_settings_refuse_a_default_smtp_url_that_names_no_transport() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(smtp_url="smtp://ann:hunter2@mail.example.com?connections=0")
    assert "connections='0'" in str(refused.value)
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize("url", ["capture://", "", "smtp://mail.example.com:587?starttls=1"])
def test_settings_accept_capture_none_and_smtp(url: str) -> None:
    assert Settings(smtp_url=url).smtp_url.get_secret_value() == url
