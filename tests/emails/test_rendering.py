"""An ORM email's fields, as rendering reads them, are its column values.

Rendering reads them from the object's own dictionary when every column is loaded there,
and through the ORM's attributes otherwise: both ways must give the same values.
"""

from __future__ import annotations

from postroom.db import Database
from postroom.emails.rendering import COLUMN_KEYS, fields_of
from postroom.models import EmailActivity
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead


async def test_a_stored_emails_fields_are_its_attribute_values(
    tenant: Tenant, database: Database
) -> None:
    lead = await create_lead(tenant.client)
    created = await create_email(tenant.client, lead["id"], subject="Hello")
    async with database.transaction() as session:
        email = await session.get(EmailActivity, created["id"])
        assert email is not None
        fields = dict(fields_of(email))
        expected = {key: getattr(email, key) for key in COLUMN_KEYS}
    assert fields == expected
    assert fields["subject"] == "Hello"
    assert fields["lead_id"] == lead["id"]


def test_an_email_with_columns_not_loaded_reads_them_through_the_orm() -> None:
    email = EmailActivity(id="acti_1", subject="Draft", status="draft")
    fields = fields_of(email)
    assert set(fields) == set(COLUMN_KEYS)
    assert (fields["id"], fields["subject"], fields["status"]) == ("acti_1", "Draft", "draft")
    assert fields["body_text"] is None
