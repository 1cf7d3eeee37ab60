"""The addresses of an email's sender and recipient fields: parsed, as the SMTP envelope
takes them (Bcc recipients appear only there), and as Close's ``envelope`` object shows them.
The message and the envelope carry a domain that is not ASCII in IDNA A-labels
(``kit.addresses.with_ascii_domain``: such an address whose own part is ASCII then needs no
SMTPUTF8); Close's ``envelope`` shows the addresses as posted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from email.utils import format_datetime, getaddresses
from functools import lru_cache

from postroom.emails.rendering import EmailRecord
from postroom.kit.addresses import with_ascii_domain


@lru_cache(maxsize=4096)
def parsed(value: str) -> tuple[tuple[str, str], ...]:
    """(name, address) pairs of one recipient field (a sender repeats on every email)."""
    return tuple(getaddresses([value]))


def all_parsed(values: Iterable[str]) -> list[tuple[str, str]]:
    return [pair for value in values for pair in parsed(value)]


def bare_addresses(values: Iterable[str]) -> list[str]:
    """The addresses as the SMTP envelope takes them (domains in A-labels)."""
    pairs = all_parsed(values)
    return [addr if addr.isascii() else with_ascii_domain(addr) for _name, addr in pairs if addr]


def envelope_recipients(email: EmailRecord) -> tuple[str, ...]:
    """To, Cc and Bcc addresses, each once, in that order, as first spelled. Once whatever
    the letter case (``Bob@Buyer.example.com`` is ``bob@buyer.example.com``) and however
    the domain is written (``bücher.example`` is ``xn--bcher-kva.example``): domains are
    case-insensitive, and so are the mailboxes of every provider in practice, so a second
    spelling would be a second copy in the same inbox (docs/decisions.md)."""
    seen: dict[str, str] = {}
    for addr in bare_addresses([*email.to_addresses, *email.cc_addresses, *email.bcc_addresses]):
        seen.setdefault(addr.casefold(), addr)
    return tuple(seen.values())


def envelope(email: EmailRecord, sent_at: datetime) -> dict[str, object]:
    """Close's ``envelope`` object of a sent email."""

    def people(values: Iterable[str]) -> list[dict[str, str]]:
        return [{"email": addr, "name": name} for name, addr in all_parsed(values)]

    return {
        "from": people([email.sender or ""]),
        "sender": people([email.sender or ""]),
        "to": people(email.to_addresses),
        "cc": people(email.cc_addresses),
        "bcc": people(email.bcc_addresses),
        "reply_to": [],
        "subject": email.subject or "",
        "date": format_datetime(sent_at),
        "message_id": email.message_ids[0],
        "in_reply_to": email.references[-1] if email.references else None,
        "is_autoreply": False,
    }
