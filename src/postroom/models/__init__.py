"""Every ORM model, imported here so Alembic and the app see the whole schema."""

from postroom.models.api_key import ApiKey
from postroom.models.base import Base
from postroom.models.contact import Contact
from postroom.models.email_account import EmailAccount
from postroom.models.email_activity import EmailActivity
from postroom.models.email_template import EmailTemplate
from postroom.models.email_thread import EmailThread
from postroom.models.event import Event
from postroom.models.idempotency_key import IdempotencyKey
from postroom.models.lead import Lead
from postroom.models.organization import Organization
from postroom.models.stored_file import StoredFile
from postroom.models.task import Task
from postroom.models.unsubscribed_email import UnsubscribedEmail
from postroom.models.user import User
from postroom.models.webhook import WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiKey",
    "Base",
    "Contact",
    "EmailAccount",
    "EmailActivity",
    "EmailTemplate",
    "EmailThread",
    "Event",
    "IdempotencyKey",
    "Lead",
    "Organization",
    "StoredFile",
    "Task",
    "UnsubscribedEmail",
    "User",
    "WebhookDelivery",
    "WebhookSubscription",
]
