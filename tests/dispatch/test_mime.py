"""The message bytes themselves: encoded headers read back as written, lines stay short."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from email._policybase import Compat32
from email.message import EmailMessage
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postroom.dispatch.mime import outgoing_message
from postroom.dispatch.mime_attachments import AttachmentPayload
from postroom.dispatch.mime_headers import SMTP_POLICY
from postroom.dispatch.mime_parts import build_message, with_pixel
from postroom.dispatch.mime_written import written_message
from postroom.models import EmailActivity

LONG_SUBJECT = "Grüße aus Köln ✓, and a subject that goes on well past seventy-eight characters"


def email_with(**fields: object) -> EmailActivity:
    values: dict[str, object] = {
        "id": "acti_test",
        "sender": '"Jürgen, Sales" <jurgen@sender.example.com>',
        "to_addresses": ["Bob Buyer <bob@buyer.example.com>"],
        "cc_addresses": [],
        "bcc_addresses": [],
        "subject": "Hello",
        "message_ids": ["<test.1@sender.example.com>"],
        "references": [],
        "body_text": "Hello Bob",
        "body_html": None,
        **fields,
    }
    return EmailActivity(**values)


def parsed(email: EmailActivity) -> tuple[EmailMessage, bytes]:
    data = outgoing_message(email, datetime(2026, 11, 26, tzinfo=UTC)).data
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message, data


@pytest.mark.parametrize(
    "subject", ["Grüße", LONG_SUBJECT, "x" * 300 + "é", " ".join(["plain ASCII"] * 20)]
)
def test_a_subject_reads_back_exactly_and_no_line_is_longer_than_78(subject: str) -> None:
    message, data = parsed(email_with(subject=subject))
    assert message["Subject"] == subject
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_display_names_are_encoded_and_many_recipients_fold() -> None:
    recipients = [f"Person {n} Ünal <person{n}@buyer.example.com>" for n in range(12)]
    message, data = parsed(email_with(to_addresses=recipients))
    assert message["From"].addresses[0].display_name == "Jürgen, Sales"
    assert [a.display_name for a in message["To"].addresses] == [
        f"Person {n} Ünal" for n in range(12)
    ]
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_a_non_ascii_body_is_utf8_and_reads_back() -> None:
    message, _data = parsed(email_with(body_text="Grüße\nzweite Zeile", body_html="<p>Grüße</p>"))
    text, html = (part.get_content() for part in message.iter_parts())
    assert (text, html) == ("Grüße\nzweite Zeile", "<p>Grüße</p>")


def longest_line(data: bytes) -> int:
    return max(len(line) for line in data.split(b"\r\n"))


def test_an_address_that_is_not_ascii_goes_in_the_header_in_utf8() -> None:
    """RFC 6532; the transport sends such a message only with SMTPUTF8 (its envelope holds
    the same address)."""
    recipients = [f"Jörg {n} <jörg{n}@buyer.example.com>" for n in range(8)]
    data = outgoing_message(
        email_with(to_addresses=recipients, sender="sällý@sender.example.com"),
        datetime(2026, 11, 26, tzinfo=UTC),
    ).data
    message = message_from_string(data.decode("utf-8"), policy=policy.SMTPUTF8)
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        (f"Jörg {n}", f"jörg{n}@buyer.example.com") for n in range(8)
    ]
    assert message["From"].addresses[0].addr_spec == "sällý@sender.example.com"
    assert longest_line(data) <= 78


def test_a_domain_that_is_not_ascii_goes_in_a_labels_in_the_headers_and_the_envelope() -> None:
    """RFC 5890: an address whose own part is ASCII needs no SMTPUTF8, so every server takes
    it; the same mailbox spelled either way is one recipient."""
    outgoing = outgoing_message(
        email_with(
            to_addresses=["Bob <bob@bücher.example>"],
            bcc_addresses=["BOB@XN--BCHER-KVA.example"],
        ),
        datetime(2026, 11, 26, tzinfo=UTC),
    )
    assert outgoing.data.isascii()
    message = message_from_bytes(outgoing.data, policy=policy.default)
    assert message["To"] == "Bob <bob@xn--bcher-kva.example>"
    assert outgoing.recipients == ("bob@xn--bcher-kva.example",)


def test_an_email_to_bcc_recipients_alone_says_to_undisclosed_recipients() -> None:
    """An empty group (RFC 5322 §3.4), never the Bcc addresses: a message without To scores
    as spam (SpamAssassin's MISSING_HEADERS)."""
    email = email_with(to_addresses=[], bcc_addresses=["secret@audit.example.com"])
    message, data = parsed(email)
    assert message.get_all("To") == ["undisclosed-recipients:;"]
    assert message["To"].groups[0].display_name == "undisclosed-recipients"
    assert message["To"].addresses == ()
    assert b"secret@" not in data
    assert outgoing_message(email, datetime(2026, 11, 26, tzinfo=UTC)).recipients == (
        "secret@audit.example.com",
    )


def test_an_email_with_cc_recipients_alone_has_no_to() -> None:
    message, _data = parsed(email_with(to_addresses=[], cc_addresses=["carol@buyer.example.com"]))
    assert (message["To"], message["Cc"]) == (None, "carol@buyer.example.com")


def test_a_message_id_that_is_not_ascii_is_written_in_utf8_never_as_encoded_words() -> None:
    """RFC 6532 msg-id, sent over SMTPUTF8 (the transport refuses it without): as RFC 2047
    encoded words, which compat32 wrote, it was no msg-id and threaded nothing."""
    email = email_with(references=["<a@x.example.com>", "<ü1@bücher.example>"])
    data = outgoing_message(email, datetime(2026, 11, 26, tzinfo=UTC)).data
    assert b"In-Reply-To: <\xc3\xbc1@b\xc3\xbccher.example>\r\n" in data
    message = message_from_string(data.decode("utf-8"), policy=policy.SMTPUTF8)
    assert message["In-Reply-To"] == "<ü1@bücher.example>"
    assert message["References"] == "<a@x.example.com> <ü1@bücher.example>"


@pytest.mark.parametrize("subject", ["a" * 998, "a" * 1000, "Re: " + "b" * 996])
def test_a_subject_of_one_long_word_is_encoded_to_fit_the_line_limit(subject: str) -> None:
    """compat32 never breaks a word: a 1,000-character one made a 1,009-octet line, which
    SMTP servers refuse ("500 Line too long")."""
    message, data = parsed(email_with(subject=subject))
    assert message["Subject"] == subject
    assert longest_line(data) <= 78


def test_a_display_name_of_one_long_word_fits_the_line_limit() -> None:
    name = "n" * 990
    message, data = parsed(email_with(to_addresses=[f'"{name}" <long@buyer.example.com>']))
    [recipient] = message["To"].addresses
    assert recipient.addr_spec == "long@buyer.example.com"
    assert recipient.display_name.replace(" ", "") == name
    assert longest_line(data) <= 998


LOOKS_ENCODED = "=?utf-8?q?Caf=C3=A9?= menu"
"""Text that reads as an RFC 2047 encoded word: written plainly, a receiver shows "Café menu"."""


def test_text_that_reads_as_an_encoded_word_is_received_as_it_was_posted() -> None:
    """A subject, a display name and an attachment name holding ``=?...?=`` are encoded, so
    that the receiver decodes them back to what the API stored, not to another text."""
    attachment = AttachmentPayload(f"{LOOKS_ENCODED}.txt", "text/plain", b"notes")
    email = email_with(subject=LOOKS_ENCODED, to_addresses=[f"{LOOKS_ENCODED} <b@buyer.example>"])
    sent_at = datetime(2026, 11, 26, tzinfo=UTC)
    data = outgoing_message(email, sent_at, attachments=[attachment]).data
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == LOOKS_ENCODED
    assert message["To"].addresses[0].display_name == LOOKS_ENCODED
    [part] = message.iter_attachments()
    assert part.get_filename() == f"{LOOKS_ENCODED}.txt"


@pytest.mark.parametrize(
    "filename", ["é" * 200 + ".txt", "a" * 1000 + ".pdf", "%" * 400, "名前" * 150 + ".docx"]
)
def test_a_long_attachment_name_is_split_into_rfc_2231_sections(filename: str) -> None:
    attachment = AttachmentPayload(filename, "text/plain", b"notes")
    data = outgoing_message(
        email_with(), datetime(2026, 11, 26, tzinfo=UTC), attachments=[attachment]
    ).data
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    [part] = message.iter_attachments()
    assert part.get_filename() == filename
    assert longest_line(data) <= 78


COMPAT32_CRLF = policy.compat32.clone(linesep="\r\n")
HEADER_NAMES = st.sampled_from(["Subject", "From", "To", "Message-ID", "References", "X-A"])


HEADER_TEXT = st.characters(max_codepoint=0x7F) | st.sampled_from(list(" \t,;:<>=?\\é✓"))


def folded(header_policy: Compat32, name: str, value: str) -> bytes | type[Exception]:
    try:
        return header_policy.fold_binary(name, value)
    except Exception as error:  # compat32 refuses some values: the same ones, the same way
        return type(error)


@given(name=HEADER_NAMES, value=st.text(HEADER_TEXT, max_size=120))
def test_every_header_is_written_exactly_as_compat32_writes_it(name: str, value: str) -> None:
    assert folded(SMTP_POLICY, name, value) == folded(COMPAT32_CRLF, name, value)


def test_each_multipart_has_a_fresh_boundary_that_delimits_its_parts() -> None:
    email = email_with(body_html="<p>Hello Bob</p>")
    first, data = parsed(email)
    second, _ = parsed(email)
    boundary = first.get_boundary()
    assert boundary is not None
    assert boundary != second.get_boundary()
    assert data.count(f"--{boundary}".encode()) == 3  # two parts, then the closing delimiter
    assert [part.get_content_type() for part in first.iter_parts()] == ["text/plain", "text/html"]


BODY_TEXT = st.text(
    st.characters(max_codepoint=0x7F) | st.sampled_from(list("\r\n\r\n.é✓ü€😀")), max_size=400
) | st.sampled_from(["", "x" * 998, "x" * 999, "a\r\n" + "y" * 1200, "ends with a break\n"])


@given(
    body_text=st.none() | BODY_TEXT,
    body_html=st.none() | BODY_TEXT,
    subject=st.none() | st.text(HEADER_TEXT, max_size=120),
    sender=st.sampled_from(["jane@sender.example.com", '"Jürgen, Sales" <j@sender.example.com>']),
    cc=st.lists(st.sampled_from(["Carol <carol@buyer.example.com>", "d@buyer.example.com"])),
    references=st.lists(st.sampled_from(["<a.1@x.example.com>", "<b.2@y.example.com>"])),
    pixel=st.none() | st.just("https://postroom.example.com/t/o/tok.gif"),
)
def test_an_email_without_attachments_is_written_exactly_as_the_stdlib_generator_writes_it(
    body_text: str | None,
    body_html: str | None,
    subject: str | None,
    sender: str,
    cc: list[str],
    references: list[str],
    pixel: str | None,
) -> None:
    email = email_with(
        body_text=body_text, body_html=body_html, subject=subject, sender=sender,
        cc_addresses=cc, references=references,
    )  # fmt: skip
    sent_at = datetime(2026, 11, 26, 14, 3, 5, tzinfo=UTC)
    tree = build_message(email, sent_at, pixel)
    expected = tree.as_bytes(policy=SMTP_POLICY)
    boundary = tree.get_boundary() or "unused"
    assert written_message(email, sent_at, pixel, boundary=lambda: boundary) == expected


def test_an_email_with_attachments_is_still_built_as_a_tree() -> None:
    attachment = AttachmentPayload("quote.pdf", "application/pdf", b"%PDF-1.7")
    email = email_with(body_html="<p>Hi</p>")
    data = outgoing_message(email, datetime(2026, 11, 26, tzinfo=UTC), None, [attachment]).data
    message = message_from_bytes(data, policy=policy.default)
    assert message.get_content_type() == "multipart/mixed"
    assert [part.get_filename() for part in message.iter_attachments()] == ["quote.pdf"]


def bare_line_ends(data: bytes) -> int:
    """CRs and LFs that are not part of a CRLF."""
    return data.count(b"\r") + data.count(b"\n") - 2 * data.count(b"\r\n")


@given(
    body_text=st.none() | BODY_TEXT,
    body_html=st.none() | BODY_TEXT,
    subject=st.none() | st.text(HEADER_TEXT, max_size=120),
    attached=st.booleans(),
)
def test_every_line_of_a_message_ends_in_crlf_as_smtp_sends_it(
    body_text: str | None, body_html: str | None, subject: str | None, attached: bool
) -> None:
    """The SMTP transport sends the bytes as they are (only dot-stuffed): a lone CR or LF
    would reach the server, where some read it as a line end (SMTP smuggling)."""
    email = email_with(body_text=body_text, body_html=body_html, subject=subject)
    attachments = [AttachmentPayload("a.txt", "text/plain", b"one\rtwo\n")] if attached else []
    data = outgoing_message(email, datetime(2026, 11, 26, tzinfo=UTC), None, attachments).data
    assert bare_line_ends(data) == 0


SEPARATORS = st.sampled_from(
    ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\r", "\n", " "]
)
LONG_LINES = st.lists(st.tuples(st.integers(0, 1200), SEPARATORS), max_size=4).map(
    lambda runs: "".join("a" * length + separator for length, separator in runs)
)


@given(body_text=LONG_LINES, body_html=st.none() | LONG_LINES, attached=st.booleans())
def test_no_line_of_a_message_is_longer_than_998_octets(
    body_text: str, body_html: str | None, attached: bool
) -> None:
    """RFC 5321 §4.5.3.1.6, whatever separators the body holds: only CR and LF end a line on
    the wire."""
    email = email_with(body_text=body_text, body_html=body_html)
    attachments = [AttachmentPayload("a.txt", "text/plain", b"x")] if attached else []
    data = outgoing_message(email, datetime(2026, 11, 26, tzinfo=UTC), None, attachments).data
    assert longest_line(data) <= 998


def attachments_of(email: EmailActivity, *items: AttachmentPayload) -> EmailMessage:
    data = outgoing_message(email, datetime(2026, 11, 26, tzinfo=UTC), None, items).data
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize(
    ("posted", "sent"),
    [
        ("application/pdf", "application/pdf"),
        ("Image/PNG", "image/png"),
        ('application/pdf; name="other.exe"', "application/pdf"),
        ("text/csv; charset=UTF-8; header=present", 'text/csv; charset="utf-8"'),
        ("multipart/mixed", "application/octet-stream"),
        ("message/rfc822", "application/octet-stream"),
        ("pdf", "application/octet-stream"),
        ('text/plain; charset="', "text/plain"),
    ],
)
def test_an_attachment_is_sent_as_its_media_type_alone_or_as_octet_stream(
    posted: str, sent: str
) -> None:
    """Parameters other than a text's charset are dropped, and a part declaring a multipart
    or message type may not be base64 (RFC 2045 §6.4), so it is sent as opaque bytes."""
    message = attachments_of(email_with(), AttachmentPayload("a.bin", posted, b"\x00data"))
    [part] = message.iter_attachments()
    assert part["Content-Type"] == sent
    assert part.get_payload(decode=True) == b"\x00data"
    assert not any(item.defects for item in message.walk())


@pytest.mark.parametrize(
    ("filename", "sent"),
    [
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("C:\\x\\evil.exe", "C:_x_evil.exe"),
        ("..", "attachment"),
    ],
)
def test_path_separators_in_an_attachment_name_become_underscores(filename: str, sent: str) -> None:
    message = attachments_of(email_with(), AttachmentPayload(filename, "text/plain", b"x"))
    [part] = message.iter_attachments()
    assert part.get_filename() == sent


def test_inline_parts_follow_the_html_in_multipart_related_of_type_text_html() -> None:
    logo = AttachmentPayload("logo.png", "image/png", b"png", content_id="logo@example.com")
    message = attachments_of(email_with(body_html='<img src="cid:logo@example.com">'), logo)
    related = next(part for part in message.walk() if part.get_content_subtype() == "related")
    assert related.get_param("type") == "text/html"
    html, image = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert (image["Content-ID"], image.get_content_disposition()) == (
        "<logo@example.com>",
        "inline",
    )


@pytest.mark.parametrize(
    "posted", ["logo@example.com", "<logo@example.com>", " <logo@example.com> "]
)
def test_a_content_id_is_written_once_in_angle_brackets(posted: str) -> None:
    logo = AttachmentPayload("logo.png", "image/png", b"png", content_id=posted)
    message = attachments_of(email_with(body_html="<p>Hi</p>"), logo)
    image = next(part for part in message.walk() if part.get_content_maintype() == "image")
    assert image["Content-ID"] == "<logo@example.com>"


def test_a_content_id_made_from_a_name_that_is_not_ascii_is_percent_encoded() -> None:
    """A Content-ID is a msg-id (RFC 2045 §7): ASCII, never RFC 2047 encoded words, which
    compat32 wrote for an inline part named in Cyrillic (a header no ``cid:`` could match, and
    8-bit-free only by accident). RFC 2392 percent-encodes what a ``cid:`` URL holds."""
    logo = AttachmentPayload("логотип.png", "image/png", b"png", inline=True)
    data = outgoing_message(
        email_with(body_html="<p>Hi</p>"), datetime(2026, 11, 26, tzinfo=UTC), None, [logo]
    ).data
    [line] = [line for line in data.split(b"\r\n") if line.startswith(b"Content-ID:")]
    assert line == b"Content-ID: <%D0%BB%D0%BE%D0%B3%D0%BE%D1%82%D0%B8%D0%BF.png>"


@pytest.mark.parametrize("filename", ["名前" * 500, "é" * 996 + ".png", "a" * 1000])
def test_a_content_id_made_from_a_long_name_is_cut_to_255_characters(filename: str) -> None:
    """As a posted ``content_id`` may have at most: a name of 1,000 characters (as an
    attachment may have) made a Content-ID line of up to 9,003 octets, over RFC 5322's 998."""
    logo = AttachmentPayload(filename, "image/png", b"png", inline=True)
    data = outgoing_message(
        email_with(body_html="<p>Hi</p>"), datetime(2026, 11, 26, tzinfo=UTC), None, [logo]
    ).data
    assert longest_line(data) <= 998
    unfolded = data.replace(b"\r\n ", b" ").split(b"\r\n")
    [line] = [line for line in unfolded if line.startswith(b"Content-ID:")]
    core = line.removeprefix(b"Content-ID:").strip().removeprefix(b"<").removesuffix(b">").decode()
    assert 250 < len(core) <= 255
    assert unquote(core) == filename[: len(unquote(core))]


PIXEL = "https://postroom.example.com/t/o/token.gif"


IMAGE = f'<img src="{PIXEL}" width="1" height="1" alt="" style="display:none">'


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("<html><body><p>Hi</p>", "</body></html>"),
        ("<p>İstanbul İzmir</p>", "</BODY ></html>"),
        ("<body>İ</body>x", "</body>"),
    ],
)
def test_the_pixel_goes_just_before_the_last_closing_body_tag(before: str, after: str) -> None:
    """Even after an ``İ``, whose lower case is two characters."""
    assert with_pixel(before + after, PIXEL) == before + IMAGE + after


def test_without_a_body_tag_the_pixel_goes_at_the_end() -> None:
    assert with_pixel("<p>İ</p>", PIXEL) == "<p>İ</p>" + IMAGE
