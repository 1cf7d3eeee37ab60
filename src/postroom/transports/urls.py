"""Transports named by URL: ``smtp://user:pass@host:port``, ``smtps://…``, ``capture://``."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from postroom.transports.base import Transport
from postroom.transports.capture import CaptureTransport
from postroom.transports.smtp import SmtpSettings, SmtpTransport

DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
N = TypeVar("N", int, float)


def smtp_settings_from_url(url: str, security: str | None = None) -> SmtpSettings:
    """``smtp://USER:PASS@HOST:PORT[?starttls=1|tls=1]``; ``smtps://`` means implicit TLS."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ValueError("an SMTP URL looks like smtp://USER:PASS@HOST:PORT")
    query = parse_qs(parts.query)
    chosen = security or _security(parts.scheme, query)
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[chosen],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        security=chosen,
        timeout=_positive(query, "timeout", "30", float),
        max_connections=_positive(query, "connections", "4", int),
        validate_certs=query.get("verify", ["1"])[0] != "0",
        helo_name=_helo_name(query),
    )


def url_options(url: str) -> set[str]:
    """The names of the options in the URL's query (``?connections=8&verify=0``)."""
    return set(parse_qs(urlsplit(url).query, keep_blank_values=True))


def _helo_name(query: dict[str, list[str]]) -> str | None:
    """``?helo=mail.example.com``: the name the client gives in EHLO (one word of ASCII)."""
    name = query.get("helo", [""])[0]
    if name and not (name.isascii() and name.isprintable() and " " not in name):
        raise ValueError(f"the SMTP URL option helo={name!r} must be a host name")
    return name or None


def _positive(query: dict[str, list[str]], name: str, default: str, kind: type[N]) -> N:
    """A number option (``?connections=8``): refused unless it is one and above zero, so a
    mistyped URL stops the server at start instead of failing every delivery."""
    text = query.get(name, [default])[0]
    try:
        value = kind(text)
    except ValueError:
        value = kind(0)
    if not value > 0:
        raise ValueError(f"the SMTP URL option {name}={text!r} must be a number above 0")
    return value


def _security(scheme: str, query: dict[str, list[str]]) -> str:
    if scheme == "smtps" or query.get("tls", ["0"])[0] == "1":
        return "tls"
    return "starttls" if query.get("starttls", ["0"])[0] == "1" else "none"


def check_transport_url(url: str) -> None:
    """Raise ``ValueError`` unless ``url`` names a transport: ``capture://`` or a valid SMTP
    URL (empty means none, and is fine)."""
    if url and urlsplit(url).scheme != "capture":
        smtp_settings_from_url(url)


def transport_from_url(url: str, data_dir: Path) -> Transport:
    """Build the transport a URL names; ``capture://`` writes into ``data_dir/mail``."""
    scheme = urlsplit(url).scheme
    if scheme == "capture":
        return CaptureTransport(data_dir / "mail")
    return SmtpTransport(smtp_settings_from_url(url))


def redacted(url: str) -> str:
    """The URL without its password, for logs and API responses."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
