"""Email addresses as Close accepts them: ``addr`` or ``"Display Name" <addr>``."""

from __future__ import annotations

import re
from email.utils import getaddresses, parseaddr
from functools import lru_cache

import idna
from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_LENGTH = 1000
CHECKED_ADDRESSES_KEPT = 4096
_FORBIDDEN = ("\r", "\n", "\x00")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@lru_cache(maxsize=CHECKED_ADDRESSES_KEPT)
def check_address(value: str) -> str:
    """Return ``value`` stripped if it is exactly one valid address; else raise ``ValueError``.

    The answer depends on ``value`` alone, and the same few addresses come back in email after
    email (the sender, a lead's contacts): the valid ones are remembered (a refusal is not; it
    is worked out again). Checking one took about 130 µs, mostly email-validator's look at the
    domain's every character: 3 % of a ``POST`` of an email to one recipient."""
    value = value.strip()
    if not value:
        raise ValueError("An email address is required.")
    if len(value) > MAX_ADDRESS_LENGTH:
        raise ValueError(f"An email address may have at most {MAX_ADDRESS_LENGTH} characters.")
    if any(character in value for character in _FORBIDDEN):
        raise ValueError("An email address may not contain line breaks or NUL characters.")
    parsed = getaddresses([value])
    if len(parsed) != 1:
        raise ValueError(f"{value!r} is not one email address.")
    [(_name, address)] = parsed
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        raise ValueError(f"{value!r} is not a valid email address: {error}") from error
    return value


@lru_cache(maxsize=1024)
def with_ascii_domain(address: str) -> str:
    """``address`` with a domain that is not ASCII in IDNA A-labels (``bob@bücher.example`` is
    ``bob@xn--bcher-kva.example``, RFC 5890), as email-validator converts it; unchanged when
    its domain is ASCII or it is no valid address (one stored before it was checked)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        ascii_domain = validate_email(address, check_deliverability=False).ascii_domain
    except EmailNotValidError:
        return address
    return f"{local}@{ascii_domain}"


def ascii_domain(domain: str) -> str:
    """A domain for the right-hand side of a Message-ID: in IDNA A-labels when it is not
    ASCII (``bücher.example`` is ``xn--bcher-kva.example``), as given when it is and is an
    RFC 5322 dot-atom. ``ValueError`` otherwise."""
    if not domain.isascii():
        return str(idna.encode(domain, uts46=True, std3_rules=True).decode("ascii"))
    if not _DOT_ATOM.fullmatch(domain):
        raise ValueError(f"{domain!r} is not a domain name")
    return domain


def bare_address(value: str) -> str:
    """The ``addr`` part of ``"Name" <addr>``."""
    return parseaddr(value)[1]


def normalized_address(value: str) -> str:
    """The lower-case bare address of ``value`` (checked by ``check_address``), the form in
    which addresses are compared case-insensitively; ``ValueError`` when it is not one."""
    return bare_address(check_address(value)).lower()
