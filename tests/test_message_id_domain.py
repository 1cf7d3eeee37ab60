"""The domain of the Message-IDs Postroom makes for emails without a sender: in ASCII, so
that a server without SMTPUTF8 takes the message, and a setting that is no domain name stops
the server at start instead of writing invalid Message-IDs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from postroom.config import Settings


def test_a_message_id_domain_that_is_not_ascii_is_used_in_a_labels() -> None:
    assert Settings(message_id_domain="Bücher.example").message_domain == "xn--bcher-kva.example"


def test_an_ascii_message_id_domain_is_used_as_given() -> None:
    assert Settings(message_id_domain="Mail.Corp.example").message_domain == "Mail.Corp.example"


@pytest.mark.parametrize(
    ("public_url", "domain"),
    [
        ("https://pôst.example/postroom", "xn--pst-kna.example"),
        ("https://postroom.corp.example:8443", "postroom.corp.example"),
        ("http://127.0.0.1:8000", "127.0.0.1"),
        ("http://localhost:8000", "postroom.localhost"),
        ("http://[::1]:8000", "postroom.localhost"),
    ],
)
def test_without_a_message_id_domain_the_public_url_host_is_used(
    public_url: str, domain: str
) -> None:
    assert Settings(public_url=public_url).message_domain == domain


@pytest.mark.parametrize("value", ["not a domain", "a..b", "corp.example.", "bü cher.example"])
def test_a_message_id_domain_that_is_no_domain_name_stops_the_server(value: str) -> None:
    with pytest.raises(ValidationError, match="message_id_domain"):
        Settings(message_id_domain=value)
