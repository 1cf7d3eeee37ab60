"""What a connection must be before Postroom sends anything on it. Each rule it breaks is an
``InsecureConnection``, permanent: a server's or a setting's configuration does not change by
waiting, and retrying it for a day only hid it (docs/decisions.md, "SMTP security").

- Security ``starttls`` (``?starttls=1``): the server must offer STARTTLS. Without it nothing
  is sent, neither the message nor the password, in clear.
- TLS (implicit or STARTTLS) with verification on, the default: the server's certificate must
  verify for the host the settings name. A certificate nobody trusts, expired, or made out
  to another name fails the handshake, and nothing is sent.
- A password (AUTH) goes only over an encrypted connection, or to a loopback address (a local
  relay: 127.0.0.0/8, ::1, which ``localhost`` names). Over plain SMTP to any other host it
  would cross the network readable on the way (AUTH PLAIN and LOGIN only encode it), so AUTH
  is not even started. The check reads the address actually connected to, not the host name.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import TYPE_CHECKING

import aiosmtplib

from postroom.transports.base import InsecureConnection

if TYPE_CHECKING:
    from postroom.transports.smtp import SmtpSettings


def require_starttls(client: aiosmtplib.SMTP, server: str) -> None:
    """Raise unless the greeted server offers STARTTLS."""
    if not client.supports_extension("starttls"):
        raise InsecureConnection(
            f"{server} offers no STARTTLS, which the SMTP settings require (security"
            " starttls): nothing was sent"
        )


def untrusted_certificate(error: BaseException, server: str) -> InsecureConnection | None:
    """The failure to report when ``error`` (or the error it wraps: aiosmtplib wraps an
    implicit TLS handshake's) is a certificate that failed verification, else None."""
    cause = error if isinstance(error, ssl.SSLCertVerificationError) else error.__cause__
    if not isinstance(cause, ssl.SSLCertVerificationError):
        return None
    reason = cause.verify_message or cause.reason or str(cause)
    return InsecureConnection(
        f"the TLS certificate of {server} failed verification ({reason}): nothing was sent"
    )


def require_encryption_for_password(client: aiosmtplib.SMTP, server: str) -> None:
    """Raise, before AUTH on an unencrypted connection, unless its other end is loopback."""
    if _on_loopback(client):
        return
    hint = " (the server offers STARTTLS)" if client.supports_extension("starttls") else ""
    raise InsecureConnection(
        f"the SMTP password was not sent: the connection to {server} is unencrypted (security"
        f" none) and not on loopback; use security starttls or tls{hint}"
    )


def _on_loopback(client: aiosmtplib.SMTP) -> bool:
    transport = client.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return peer is not None and bool(peer) and _is_loopback(str(peer[0]))


def _is_loopback(text: str) -> bool:
    """Whether ``text`` is a loopback address (an IPv4-mapped one included; a scope is
    ignored); not an address at all is not loopback."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def password_refused_in_clear(settings: SmtpSettings) -> str | None:
    """What to tell whoever sets up ``settings`` when they name a password, security none and a
    host that does not resolve to loopback only: every send through them would end in
    ``InsecureConnection`` (``require_encryption_for_password``). Said when the route is set
    up, not refused, as the host may resolve otherwise where Postroom sends from."""
    if settings.password is None or settings.security != "none":
        return None
    if _resolves_to_loopback_only(settings.host):
        return None
    return (
        f"warning: {settings.host} is not a loopback address and the connection is"
        " unencrypted (security none): Postroom never sends the password in clear, so every"
        " email sent this way will end in error; use STARTTLS or TLS"
    )


def _resolves_to_loopback_only(host: str) -> bool:
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = {str(entry[4][0]) for entry in found}
    return bool(addresses) and all(_is_loopback(address) for address in addresses)
