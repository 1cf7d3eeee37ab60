"""Email activity request bodies (Close's create and update fields) and the response shape."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from postroom.emails.states import EmailStatus
from postroom.kit.addresses import check_address
from postroom.kit.headers import as_message_id, breaks_header, is_content_id, is_media_type
from postroom.kit.jsoncodec import dumps_text
from postroom.kit.schemas import Boolean, Integer, RequestModel
from postroom.kit.tenancy import PostedOrganization

MAX_SUBJECT = 1000
MAX_BODY = 1_048_576
MAX_RECIPIENTS = 500
MAX_ATTACHMENTS = 1000
MIN_SEQUENCE_DELAY = 86_400
MAX_SEQUENCE_DELAY = 2**31 - 1
"""The largest value PostgreSQL's ``integer`` column holds (68 years of seconds)."""
MAX_MESSAGE_ID = 998 - len("In-Reply-To: ")
"""A Message-ID fits on one header line with the longest header name that carries it, within
RFC 5322's 998 octets (§2.1.1)."""
MAX_ENVELOPE_CHARS = 100_000
MAX_OPENS = 10_000
MAX_OPENED_BY = 1000
MAX_IP_ADDRESS = 100
MAX_USER_AGENT = 2000
"""An email's ``opens``: the pixel records no more, and no longer values, than a client may
post back (the email read and put back whole)."""
"""An imported ``envelope``, as JSON text: room for every recipient the address lists allow."""

Address = Annotated[str, AfterValidator(check_address)]
AddressList = Annotated[list[Address], Field(max_length=MAX_RECIPIENTS)]


def _message_id(value: str) -> str:
    bracketed = as_message_id(value)
    if len(bracketed) > MAX_MESSAGE_ID:
        raise ValueError(f"A Message-ID may have at most {MAX_MESSAGE_ID} characters.")
    return bracketed


MessageId = Annotated[str, Field(max_length=MAX_MESSAGE_ID), AfterValidator(_message_id)]
"""Shown as RFC 5322 writes it, in angle brackets (Close: ``message_ids`` "with angle
brackets"), so that replies naming it in their headers find it."""


def media_type_or_empty(value: str | None) -> str | None:
    """An attachment's ``content_type``: a media type, or null or "" (the file's own)."""
    if value and not is_media_type(value):
        raise ValueError(f"{value!r} is not a media type such as 'application/pdf'.")
    return value


def content_id_or_empty(value: str | None) -> str | None:
    """An attachment's ``content_id``: one token (``logo@example.com``), or null or ""."""
    if value and not is_content_id(value):
        raise ValueError(f"{value!r} is not a Content-ID such as 'logo@example.com'.")
    return value


class AttachmentIn(RequestModel):
    _content_type = field_validator("content_type")(media_type_or_empty)
    _content_id = field_validator("content_id")(content_id_or_empty)

    url: str = Field(max_length=2000)
    filename: str = Field(max_length=1000)
    size: Integer = Field(ge=0)
    content_type: str | None = Field(default=None, max_length=255)
    content_id: str | None = Field(default=None, max_length=255)
    inline_only: Boolean = False


class OpenIn(RequestModel):
    opened_at: datetime
    opened_by: str | None = Field(default=None, max_length=MAX_OPENED_BY)
    ip_address: str | None = Field(default=None, max_length=MAX_IP_ADDRESS)
    user_agent: str | None = Field(default=None, max_length=MAX_USER_AGENT)


class EmailActivityFields(PostedOrganization):
    """Fields that both create and update accept. Unknown and read-only fields are ignored."""

    contact_id: str | None = Field(default=None, max_length=64)
    user_id: str | None = Field(default=None, max_length=64)
    sender: Address | None = None
    to: AddressList | None = None
    cc: AddressList | None = None
    bcc: AddressList | None = None
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT)
    body_text: str | None = Field(default=None, max_length=MAX_BODY)
    body_html: str | None = Field(default=None, max_length=MAX_BODY)
    template_id: str | None = Field(default=None, max_length=64)
    attachments: list[AttachmentIn] | None = Field(default=None, max_length=MAX_ATTACHMENTS)
    date_scheduled: datetime | None = None
    send_in: Integer | None = Field(default=None, ge=0, le=59)
    followup_date: datetime | None = None
    followup_sequence_id: str | None = Field(default=None, max_length=64)
    followup_sequence_delay: Integer | None = Field(
        default=None, ge=MIN_SEQUENCE_DELAY, le=MAX_SEQUENCE_DELAY
    )
    followup_sequence_add_cc_bcc: Boolean | None = None
    in_reply_to_id: str | None = Field(default=None, max_length=64)
    email_account_id: str | None = Field(default=None, max_length=64)
    account_id: str | None = Field(default=None, max_length=64)
    opens: list[OpenIn] | None = Field(default=None, max_length=MAX_OPENS)
    activity_at: datetime | None = None

    @field_validator("subject")
    @classmethod
    def _subject_on_one_line(cls, value: str | None) -> str | None:
        if value is not None and breaks_header(value):
            raise ValueError("The subject may not contain line breaks or control characters.")
        return value

    @property
    def account(self) -> str | None:
        """``email_account_id``, or its older name ``account_id``."""
        return self.email_account_id or self.account_id

    @property
    def account_field(self) -> str:
        """The name ``account`` was posted under: where its field errors are reported."""
        return "account_id" if self.account_id and not self.email_account_id else "email_account_id"


class EmailActivityCreate(EmailActivityFields):
    lead_id: str = Field(max_length=64)
    status: EmailStatus
    date_created: datetime | None = None
    date_sent: datetime | None = None
    created_by: str | None = Field(default=None, max_length=64)
    created_by_id: str | None = Field(default=None, max_length=64)
    message_ids: list[MessageId] | None = Field(default=None, max_length=100)
    references: list[MessageId] | None = Field(default=None, max_length=1000)
    envelope: dict[str, Any] | None = None

    @field_validator("envelope")
    @classmethod
    def _envelope_fits(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        message_id = value.get("message_id")
        if isinstance(message_id, str) and message_id.strip():
            _message_id(message_id)
        if len(dumps_text(value)) > MAX_ENVELOPE_CHARS:
            raise ValueError(f"The envelope may have at most {MAX_ENVELOPE_CHARS} characters.")
        return value

    @property
    def creator(self) -> str | None:
        return self.created_by or self.created_by_id


class EmailActivityUpdate(EmailActivityFields):
    status: EmailStatus | None = None
    """Left out: the status stays. Posted, it is one of the six (``null`` is none of them)."""
    lead_id: str | None = Field(default=None, max_length=64)
    """Not changeable: an email stays on its lead; only its own lead may be posted back."""

    @field_validator("status", mode="before")
    @classmethod
    def _status_given(cls, value: object) -> object:
        if value is None:
            raise ValueError("An email always has a status; leave status out to keep it.")
        return value


class SendAttempt(BaseModel):
    date: str
    error_class: str
    error_message: str


class EmailActivity(BaseModel):
    """The response object (documentation only; responses are rendered by ``render_email``)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    type_: str = Field(default="Email", alias="_type")
    organization_id: str
    lead_id: str | None
    contact_id: str | None
    user_id: str | None
    user_name: str | None
    created_by: str | None
    created_by_name: str | None
    updated_by: str | None
    updated_by_name: str | None
    date_created: str
    date_updated: str
    activity_at: str | None
    date_sent: str | None
    date_scheduled: str | None
    followup_date: str | None
    send_in: int | None
    status: EmailStatus
    direction: str
    sender: str | None
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str | None
    body_text: str | None
    body_html: str | None
    body_preview: str | None
    attachments: list[dict[str, Any]]
    template_id: str | None
    template_name: str | None
    thread_id: str | None
    in_reply_to_id: str | None
    message_ids: list[str]
    references: list[str]
    envelope: dict[str, Any] | None
    has_reply: bool
    need_smtp_credentials: bool
    email_account_id: str | None
    send_as_id: str | None
    bulk_email_action_id: str | None
    followup_sequence_id: str | None
    followup_sequence_delay: int | None
    followup_sequence_add_cc_bcc: bool
    opens: list[dict[str, Any]]
    opens_summary: str | None
    send_attempts: list[SendAttempt]
    users: list[str]
    sequence_id: str | None
    sequence_name: str | None
    sequence_subscription_id: str | None


class EmailActivityList(BaseModel):
    data: list[EmailActivity]
    has_more: bool
