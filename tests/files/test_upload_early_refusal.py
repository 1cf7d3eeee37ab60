"""The signed upload refuses what it can before it takes in the file (§3 Files).

``POST /files/upload/{file_id}/`` takes no API key: anyone may send it 25 MB. The form is
S3's: the grant's fields (``key``, ``expires``, ``signature``), then ``file``. So the
server reads the fields, checks them and the grant, and only then reads the file's bytes: a
request that will be refused is refused while its file still waits in the connection.

The bodies here are sent in chunks by an async generator that counts what the server has
asked for (httpx's ASGI transport reads the body only as the app asks for it); one test
does the same over TCP against a real server.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from postroom.config import Settings
from postroom.files.service import FilesConfig, files_config, sign_upload
from postroom.kit.datetimes import utcnow
from tests.conftest import Tenant
from tests.files.test_upload import grant, upload
from tests.helpers import field_errors
from tests.live import live_server

BOUNDARY = "postroom-early-refusal"
CHUNK = 64 * 1024
FILE_BYTES = 25 * 1024 * 1024
"""As large a file as is allowed: what a client with no grant could make the server take."""


@pytest.fixture
def config(settings: Settings) -> FilesConfig:
    return files_config(settings)


def form_field(name: str, value: str, padding: int = 0) -> bytes:
    pad = f"X-Padding: {'p' * padding}\r\n" if padding else ""
    disposition = f'Content-Disposition: form-data; name="{name}"\r\n'
    return f"--{BOUNDARY}\r\n{disposition}{pad}\r\n{value}\r\n".encode()


def form_head(fields: dict[str, str]) -> bytes:
    """The fields, then the headers of the file part: what comes before the file's bytes."""
    file_part = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    )
    return b"".join(form_field(name, value) for name, value in fields.items()) + file_part.encode()


FORM_TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


class CountedBody:
    """A multipart upload of ``file_bytes`` bytes, sent in chunks as the server asks for
    them; ``asked`` is how many of the file's bytes it asked for."""

    def __init__(self, head: bytes, file_bytes: int = FILE_BYTES) -> None:
        self.head = head
        self.file_bytes = file_bytes
        self.asked = 0

    @property
    def length(self) -> int:
        return len(self.head) + self.file_bytes + len(FORM_TAIL)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        while self.asked < self.file_bytes:
            chunk = b"x" * min(CHUNK, self.file_bytes - self.asked)
            self.asked += len(chunk)
            yield chunk
        yield FORM_TAIL


async def send(
    client: httpx.AsyncClient, url: str, body: CountedBody, length: int | None = None
) -> httpx.Response:
    headers = {
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        "content-length": str(body.length if length is None else length),
    }
    return await client.post(url, content=body, headers=headers)


def fields_of(granted: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = granted["upload"]["fields"]
    return dict(fields)


def with_wrong_signature(fields: dict[str, str]) -> dict[str, str]:
    return fields | {"signature": "0" * 64}


def without_grant_fields(_fields: dict[str, str]) -> dict[str, str]:
    return {}


def with_another_key(fields: dict[str, str]) -> dict[str, str]:
    return fields | {"key": "file_someoneelse"}


@pytest.mark.parametrize("tamper", [with_wrong_signature, without_grant_fields, with_another_key])
async def test_an_upload_without_a_valid_grant_is_refused_before_the_file_is_read(
    tenant: Tenant, anonymous: httpx.AsyncClient, tamper: Any
) -> None:
    granted = await grant(tenant.client)
    body = CountedBody(form_head(tamper(fields_of(granted))))
    response = await send(anonymous, granted["upload"]["url"], body)
    assert response.status_code == 403, response.text
    assert set(response.json()) == {"error"}
    assert body.asked <= CHUNK, f"read {body.asked} of the file's {FILE_BYTES} bytes"


async def test_an_upload_after_the_signed_deadline_is_refused_before_the_file_is_read(
    tenant: Tenant, anonymous: httpx.AsyncClient, config: FilesConfig
) -> None:
    granted = await grant(tenant.client)
    file_id = fields_of(granted)["key"]
    expires = str(int(utcnow().timestamp()) - 1)
    fields = {"key": file_id, "expires": expires}
    fields["signature"] = sign_upload(config.signing_key, file_id, expires)
    body = CountedBody(form_head(fields))
    response = await send(anonymous, granted["upload"]["url"], body)
    assert response.status_code == 400
    assert "expired" in response.json()["error"]
    assert body.asked <= CHUNK


async def test_a_second_upload_of_a_grant_is_refused_before_the_file_is_read(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    assert (await upload(anonymous, granted)).status_code == 201
    body = CountedBody(form_head(fields_of(granted)))
    response = await send(anonymous, granted["upload"]["url"], body)
    assert response.status_code == 400
    assert "uploaded already" in response.json()["error"]
    assert body.asked <= CHUNK


async def test_an_upload_to_a_url_that_names_no_file_is_refused_before_the_body_is_read(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    url = granted["upload"]["url"].replace("/file_", "/nofile_")
    body = CountedBody(form_head(fields_of(granted)))
    response = await send(anonymous, url, body)
    assert response.status_code == 403
    assert body.asked == 0


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    """The file may have 25 MB and the fields 64 KB: a body declared longer is refused."""
    granted = await grant(tenant.client)
    body = CountedBody(form_head(fields_of(granted)))
    too_long = FILE_BYTES + 64 * 1024 + 1
    response = await send(anonymous, granted["upload"]["url"], body, length=too_long)
    assert "26214400 bytes" in field_errors(response)["file"]
    assert body.asked == 0


async def test_at_most_64_kb_may_come_before_the_file_part(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    """The grant's fields take about 150 bytes; a body padded before its file part is
    refused once 64 KB have come without it, whatever the file after."""
    granted = await grant(tenant.client)
    padded = b"".join(form_field(f"extra{n}", "v" * 4000, padding=4000) for n in range(10))
    body = CountedBody(padded + form_head(fields_of(granted)), file_bytes=FILE_BYTES // 2)
    response = await send(anonymous, granted["upload"]["url"], body)
    assert response.status_code == 400
    assert "64" in response.json()["error"]
    assert body.asked == 0


async def test_a_valid_upload_streams_the_whole_file(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    body = CountedBody(form_head(fields_of(granted)), file_bytes=3 * CHUNK + 5)
    response = await send(anonymous, granted["upload"]["url"], body)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == 3 * CHUNK + 5
    download = await tenant.client.get(granted["download"]["url"])
    assert download.content == b"x" * (3 * CHUNK + 5)


async def test_text_fields_after_the_file_are_ignored_as_s3_ignores_them(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    head = form_head(fields_of(granted))
    tail = f"\r\n{form_field('signature', 'changed').decode()}--{BOUNDARY}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    response = await anonymous.post(
        granted["upload"]["url"], content=head + b"PDF" + tail, headers=headers
    )
    assert response.status_code == 201, response.text
    assert (await tenant.client.get(granted["download"]["url"])).content == b"PDF"


async def test_grant_fields_sent_after_the_file_are_not_read(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    """S3's POST form has the file last; a form with ``file`` first is refused (403)."""
    granted = await grant(tenant.client)
    fields = b"".join(form_field(name, value) for name, value in fields_of(granted).items())
    content = form_head({}) + b"PDF\r\n" + fields + f"--{BOUNDARY}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    response = await anonymous.post(granted["upload"]["url"], content=content, headers=headers)
    assert response.status_code == 403
    assert (await upload(anonymous, granted)).status_code == 201


async def test_a_form_cut_inside_the_file_part_stores_nothing(
    tenant: Tenant, anonymous: httpx.AsyncClient
) -> None:
    granted = await grant(tenant.client)
    head = form_head(fields_of(granted))
    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    response = await anonymous.post(
        granted["upload"]["url"], content=head + b"PDF, cut short", headers=headers
    )
    assert "file" in field_errors(response)
    assert (await tenant.client.get(granted["download"]["url"])).status_code == 404


def test_a_real_server_answers_a_bad_signature_before_the_file_is_sent(
    database_url: str, tmp_path: Path
) -> None:
    """Over TCP: the request says 25 MB are coming, sends the fields and the file part's
    headers, and waits; the 403 arrives without one byte of the file sent."""
    with live_server(database_url, tmp_path) as server:
        auth = (server.api_key, "")
        body = {"filename": "big.pdf", "content_type": "application/pdf"}
        granted = httpx.post(f"{server.base_url}files/upload/", json=body, auth=auth).json()
        head = form_head(with_wrong_signature(fields_of(granted)))
        path = granted["upload"]["url"].split(f":{server.port}", 1)[1]
        answer = first_answer(server.port, path, head, len(head) + FILE_BYTES + len(FORM_TAIL))
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]


def first_answer(port: int, path: str, head: bytes, length: int) -> bytes:
    """What the server says after the request's headers and ``head`` of its body."""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request + head)
        try:
            return connection.recv(65536)
        except TimeoutError:
            return b"(no answer within 5 s)"
