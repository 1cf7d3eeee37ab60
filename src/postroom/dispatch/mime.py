"""The RFC 5322 message of an email, built with the stdlib ``email`` package.

Parts are ``email.mime`` objects and headers plain strings (the compat32 model): the header
registry of ``EmailMessage`` parses every value again and cost most of a delivery's CPU.
An email without attachments (text, or text and HTML) is written straight to bytes by
``written_message``, byte for byte what compat32's generator writes for the same parts (a
hypothesis test holds the two together): the generator's walk over the part tree cost about
0.2 ms a message, five times the rest of building it. Every header still goes through the
policy's ``fold_binary`` and every body through the stdlib's own encoders. So
every header value goes through ``one_line`` first (no CR, LF or other control character can
reach the message, so no field can inject a header or a recipient), display names and the
subject are RFC 2047-encoded when they are not ASCII or hold a word too long for a line, a
domain that is not ASCII is written in IDNA A-labels (in the envelope too), and an address
whose own part is not ASCII is written in UTF-8 (RFC 6532), which the transport sends only
with SMTPUTF8 (its envelope address is not ASCII either). Attachment names too
long for one line are split into RFC 2231 sections, and path separators in them become ``_``.
An attachment's content type is sent as ``type/subtype`` (with a ``charset`` for text):
anything else, and the multipart and message types a base64 part may not have (RFC 2045
§6.4, RFC 2046 §5.2.1), is sent as ``application/octet-stream``. A ``Content-ID`` is one
token in angle brackets. No line is longer than 998 octets. Bcc
recipients appear only in the SMTP envelope. Bodies are 7bit when they are ASCII in short
lines, else UTF-8 in base64.

The modules: ``mime_headers`` (the policy and header values), ``addresses`` (recipient fields,
the SMTP envelope, Close's envelope object), ``mime_parts`` (the part tree),
``mime_attachments`` (how an attachment is named and typed) and ``mime_written`` (the
straight bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from postroom.dispatch.addresses import bare_addresses, envelope_recipients
from postroom.dispatch.mime_attachments import AttachmentPayload
from postroom.dispatch.mime_headers import SMTP_POLICY
from postroom.dispatch.mime_parts import build_message
from postroom.dispatch.mime_written import written_message
from postroom.emails.rendering import EmailRecord
from postroom.transports.base import OutgoingMessage


def outgoing_message(
    email: EmailRecord,
    sent_at: datetime,
    pixel_url: str | None = None,
    attachments: Sequence[AttachmentPayload] = (),
) -> OutgoingMessage:
    if attachments:
        data = build_message(email, sent_at, pixel_url, attachments).as_bytes(policy=SMTP_POLICY)
    else:
        data = written_message(email, sent_at, pixel_url)
    return OutgoingMessage(
        email_id=email.id,
        envelope_from=next(iter(bare_addresses([email.sender or ""])), ""),
        recipients=envelope_recipients(email),
        data=data,
        message_id=email.message_ids[0],
    )
