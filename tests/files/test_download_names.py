"""The name a download suggests (§3 Files): the file's whole name, stored and returned as
posted, but in ``Content-Disposition`` at most 255 bytes of UTF-8 with its extension kept,
so the header stays far below a proxy's 4 KB buffer for response headers."""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx
import pytest

from postroom.files.schemas import content_disposition
from tests.conftest import Tenant
from tests.helpers import create_email, create_lead, upload_file

LONG_NAMES = ["名前" * 500, "é" * 996 + ".pdf", "a" * 996 + ".pdf", "x" * 980 + ".tar.gz"]


def suggested_names(disposition: str) -> tuple[str, str]:
    """The ASCII fallback ``filename`` and the RFC 5987 ``filename*``, decoded."""
    fallback = re.search(r'filename="([^"]*)"', disposition)
    encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert fallback is not None
    assert encoded is not None
    return fallback[1], unquote(encoded[1])


@pytest.mark.parametrize("filename", LONG_NAMES)
async def test_a_long_name_is_cut_in_the_download_header_and_kept_whole_elsewhere(
    tenant: Tenant, filename: str
) -> None:
    item = await upload_file(tenant.client, filename, "application/pdf", b"%PDF-1.7")
    lead = await create_lead(tenant.client)
    email = await create_email(tenant.client, lead["id"], attachments=[item])
    assert email["attachments"][0]["filename"] == filename
    response = await tenant.client.get(item["url"])
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert len(disposition.encode()) <= 1100
    fallback, name = suggested_names(disposition)
    assert len(name.encode()) <= 255
    assert len(fallback) <= 255
    stem, dot, extension = filename.rpartition(".")
    if len(extension) < 10:
        assert name.endswith(dot + extension)
        assert stem.startswith(name.removesuffix(dot + extension))
    else:
        assert filename.startswith(name)


@pytest.mark.parametrize("filename", ["a" * 251 + ".pdf", "é" * 125 + ".pdf", "Q3 report.pdf"])
def test_a_name_of_at_most_255_bytes_is_given_whole(filename: str) -> None:
    assert suggested_names(content_disposition(filename))[1] == filename


def test_a_name_is_cut_between_characters_never_inside_one() -> None:
    """Three bytes each: 255 hold 85 of them; the extension is kept after 83."""
    _, name = suggested_names(content_disposition("名" * 400 + ".pdf"))
    assert name == "名" * 83 + ".pdf"


def test_a_name_whose_last_dot_starts_no_extension_is_cut_at_its_end() -> None:
    _, name = suggested_names(content_disposition("report." + "x" * 400))
    assert name == ("report." + "x" * 400)[:255]


async def test_the_upload_answer_keeps_the_whole_name(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    body = {"filename": "名前" * 500, "content_type": "application/pdf"}
    granted = (await tenant.client.post("/files/upload/", json=body)).json()
    files = {"file": ("x.pdf", b"%PDF", "application/pdf")}
    upload = granted["upload"]
    response = await anonymous.post(upload["url"], data=upload["fields"], files=files)
    assert response.json()["filename"] == "名前" * 500
