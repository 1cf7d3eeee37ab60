"""What a connection must be before Postroom sends anything on it. Each rule it breaks is an
``InsecureConnection``, permanent: a server's or a setting's configuration does not change by
waiting, and retrying it for a day only hid it (docs/decisions.md, "SMTP security").

- Security ``starttls`` (``?starttls=1``): the server must offer STARTTLS. Without it nothing
  is sent, neither the message nor the password, in clear.
- TLS (implicit or STARTTLS) with verification on, the default: the server's certificate must
  verify for the host the settings name. A certificate nobody trusts, expired, or made out
  to another name fails the handshake, and nothing is sent.
"""

from __future__ import annotations

import ssl

import aiosmtplib

from postroom.transports.base import InsecureConnection


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
