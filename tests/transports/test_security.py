"""How secure a connection must be before Postroom uses it (docs/decisions.md, "SMTP
security"): STARTTLS when the settings ask for it, a certificate that verifies for the host
when TLS is verified, and never a password over an unencrypted connection that leaves the
machine. Each refusal is an ``InsecureConnection``, permanent: waiting changes no server's
or setting's configuration. And a refused login is read by its reply's code, like the
replies to MAIL, RCPT and DATA.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from postroom.transports import (
    AuthenticationFailed,
    DeliveryError,
    DeliveryReceipt,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from postroom.transports.smtp import SmtpTransport
from tests.smtp_server import SmtpServer, address_off_loopback, smtp_server
from tests.transports.certificates import self_signed_context, server_certificate
from tests.transports.conftest import Connect
from tests.transports.test_smtp import (
    BOB,
    Handover,
    failure,
    message,
)

LOGIN = {"username": "jane", "password": "s3cret"}


def assert_insecure(error: DeliveryError, *fragments: str) -> None:
    assert error.error_class == "InsecureConnection"
    assert isinstance(error, PermanentDeliveryError)
    for fragment in fragments:
        assert fragment in error.message


async def refused(transport: SmtpTransport) -> tuple[DeliveryError, Handover]:
    handover = Handover()
    try:
        return await failure(transport, handover), handover
    finally:
        await transport.close()


async def delivered(transport: SmtpTransport) -> DeliveryReceipt:
    """Deliver one message and hang up (before the server stops)."""
    try:
        return await transport.deliver(message(), Handover())
    finally:
        await transport.close()


@pytest.fixture
def off_loopback() -> str:
    """This machine's own address on a network interface: a connection to it is not on
    loopback, as one to a relay elsewhere would not be."""
    address = address_off_loopback()
    if address is None:
        pytest.skip("this machine has no address off loopback")
    return address


@pytest.fixture
def trust(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], None]:
    """Adds a certificate to the only ones the client trusts (the file ``SSL_CERT_FILE``
    names, which Python's default verification reads)."""
    bundle = tmp_path / "trusted.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))

    def add(pem: bytes) -> None:
        with bundle.open("ab") as trusted:
            trusted.write(pem)

    return add


def serving(
    security: str, context: ssl.SSLContext, **smtp: Any
) -> AbstractContextManager[SmtpServer]:
    """An SMTP server offering STARTTLS (``starttls``) or speaking TLS at once (``tls``)."""
    tls: dict[str, Any] = {"ssl_context" if security == "tls" else "tls_context": context}
    return smtp_server(**smtp, **tls)


# -- STARTTLS required -------------------------------------------------------------------------


@pytest.mark.parametrize("login", [{}, LOGIN], ids=["no-credentials", "credentials"])
async def test_starttls_required_from_a_server_that_offers_none_is_refused_for_good(
    connect: Connect, login: dict[str, str]
) -> None:
    """``?starttls=1`` (an account's security ``starttls``) promises an encrypted session: a
    server without STARTTLS gets nothing, not the message and not the password, and no retry
    for a day (its configuration does not change by waiting)."""
    with smtp_server(auth=True) as smtp:
        error, handover = await refused(connect(smtp.port, security="starttls", **login))
    assert_insecure(error, "offers no STARTTLS", f"127.0.0.1:{smtp.port}")
    assert (handover.calls, smtp.messages(), smtp.logins) == (0, [], [])


# -- certificates ------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_a_certificate_nobody_trusts_is_refused_for_good(
    connect: Connect, security: str
) -> None:
    with serving(security, self_signed_context(), auth=True) as smtp:
        error, handover = await refused(connect(smtp.port, security=security, **LOGIN))
    assert_insecure(error, "certificate", "self-signed certificate", "127.0.0.1")
    assert (handover.calls, smtp.messages(), smtp.logins) == (0, [], [])


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_a_trusted_certificate_for_another_host_is_refused_for_good(
    connect: Connect, security: str, trust: Callable[[bytes], None]
) -> None:
    context, pem = server_certificate("mail.example.com")
    trust(pem)
    with serving(security, context) as smtp:
        error, _ = await refused(connect(smtp.port, security=security))
    assert_insecure(error, "certificate", "mismatch", "127.0.0.1")
    assert smtp.messages() == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_a_trusted_certificate_for_the_host_is_accepted(
    connect: Connect, security: str, trust: Callable[[bytes], None]
) -> None:
    context, pem = server_certificate("127.0.0.1")
    trust(pem)
    with serving(security, context, auth=True) as smtp:
        receipt = await delivered(connect(smtp.port, security=security, **LOGIN))
    assert receipt.accepted == (BOB,)
    assert smtp.logins == [("jane", "s3cret")]


# -- passwords and unencrypted connections -----------------------------------------------------


@pytest.mark.parametrize("starttls", [False, True], ids=["plain-server", "server-offers-starttls"])
async def test_a_password_is_never_sent_unencrypted_off_loopback(
    connect: Connect, off_loopback: str, starttls: bool
) -> None:
    """Security ``none`` with credentials, to a host that is not this machine's loopback: the
    password would cross the network in clear (AUTH PLAIN and LOGIN only encode it)."""
    tls = {"tls_context": self_signed_context()} if starttls else {}
    with smtp_server(off_loopback, auth=True, **tls) as smtp:
        error, handover = await refused(connect(smtp.port, host=off_loopback, **LOGIN))
    assert_insecure(error, "password", "unencrypted", off_loopback)
    assert ("offers STARTTLS" in error.message) is starttls
    assert (handover.calls, smtp.messages(), smtp.logins) == (0, [], [])


async def test_a_password_goes_off_loopback_over_starttls(
    connect: Connect, off_loopback: str
) -> None:
    with smtp_server(off_loopback, auth=True, tls_context=self_signed_context()) as smtp:
        transport = connect(
            smtp.port, host=off_loopback, security="starttls", validate_certs=False, **LOGIN
        )
        receipt = await delivered(transport)
    assert receipt.accepted == (BOB,)
    assert smtp.logins == [("jane", "s3cret")]


async def test_without_a_password_plain_smtp_off_loopback_is_used(
    connect: Connect, off_loopback: str
) -> None:
    """The rule is about passwords: a relay that takes mail from this machine without a
    login is used as configured (security ``none``)."""
    with smtp_server(off_loopback) as smtp:
        receipt = await delivered(connect(smtp.port, host=off_loopback))
    assert receipt.accepted == (BOB,)


@pytest.mark.parametrize(
    ("listening", "host"),
    [("127.0.0.1", "127.0.0.1"), ("127.0.0.1", "localhost"), ("127.0.0.2", "127.0.0.2"),
     ("::1", "::1")],
)  # fmt: skip
async def test_a_password_may_go_unencrypted_to_loopback(
    connect: Connect, listening: str, host: str
) -> None:
    """A local relay (and every test server) on loopback: nothing leaves the machine."""
    with smtp_server(listening, auth=True) as smtp:
        receipt = await delivered(connect(smtp.port, host=host, **LOGIN))
    assert receipt.accepted == (BOB,)
    assert smtp.logins == [("jane", "s3cret")]


# -- replies to AUTH, by their code -------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error_class"),
    [
        ("454 4.7.0 Temporary authentication failure", "TemporaryRejection"),
        ("535 5.7.8 Authentication credentials invalid", "AuthenticationFailed"),
    ],
)
async def test_a_refused_login_is_read_by_its_code(
    connect: Connect, reply: str, error_class: str
) -> None:
    """RFC 4954: 454 is a temporary failure of the server's (its password store is down, say),
    retried; a 5xx refuses the credentials, which waiting does not change."""
    with smtp_server(auth=True) as server:
        server.behaviour.auth_reply = reply
        error = await failure(connect(server.port, **LOGIN))
    assert error.error_class == error_class
    assert error.message == reply
    assert isinstance(error, AuthenticationFailed) is (error_class == "AuthenticationFailed")
    assert isinstance(error, TransientDeliveryError) is reply.startswith("4")
