"""Authentication: the API key as Basic user name or as a Bearer token (spec §1, auth)."""

from __future__ import annotations

import base64

import httpx
from sqlalchemy import select

from postroom.db import Database
from postroom.models import ApiKey
from tests.conftest import Tenant
from tests.helpers import ok


def basic(credentials: bytes) -> dict[bytes, bytes]:
    return {b"Authorization": b"Basic " + base64.b64encode(credentials)}


def unauthorized_message(response: httpx.Response) -> str:
    """Assert a 401 whose body is exactly ``{"error": "<message>"}``; return the message."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert list(body) == ["error"], body
    message = body["error"]
    assert isinstance(message, str)
    assert message
    return message


async def test_basic_auth_with_the_key_as_user_name_and_empty_password_authenticates(
    anonymous: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await anonymous.get("/me/", auth=(tenant.api_key, ""))
    assert ok(response)["email"] == tenant.user_email


async def test_basic_header_built_like_curl_u_authenticates(
    anonymous: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await anonymous.get("/me/", headers=basic(f"{tenant.api_key}:".encode()))
    assert ok(response)["email"] == tenant.user_email


async def test_bearer_token_authenticates(anonymous: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await anonymous.get("/me/", headers={"Authorization": f"Bearer {tenant.api_key}"})
    assert ok(response)["email"] == tenant.user_email


async def test_auth_scheme_is_case_insensitive(
    anonymous: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await anonymous.get("/me/", headers={"Authorization": f"bearer {tenant.api_key}"})
    assert ok(response)["email"] == tenant.user_email


async def test_missing_authorization_header_is_401(anonymous: httpx.AsyncClient) -> None:
    unauthorized_message(await anonymous.get("/me/"))


async def test_wrong_key_is_401(anonymous: httpx.AsyncClient) -> None:
    unauthorized_message(await anonymous.get("/me/", auth=("api_notAKeyAtAll", "")))


async def test_wrong_bearer_token_is_401(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/me/", headers={"Authorization": "Bearer api_notAKeyAtAll"})
    unauthorized_message(response)


async def test_empty_bearer_token_is_401(anonymous: httpx.AsyncClient) -> None:
    unauthorized_message(await anonymous.get("/me/", headers={"Authorization": "Bearer "}))


async def test_malformed_basic_base64_is_401(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/me/", headers={"Authorization": "Basic %%%not-base64%%%"})
    unauthorized_message(response)


async def test_non_ascii_basic_credentials_are_401(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/me/", headers={b"Authorization": b"Basic \xe9t\xe9=="})
    unauthorized_message(response)


async def test_basic_credentials_that_are_not_utf8_are_401(anonymous: httpx.AsyncClient) -> None:
    unauthorized_message(await anonymous.get("/me/", headers=basic(b"\xff\xfe:")))


async def test_basic_with_empty_user_name_is_401(
    anonymous: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await anonymous.get("/me/", headers=basic(f":{tenant.api_key}".encode()))
    unauthorized_message(response)


async def test_basic_with_the_key_and_a_password_is_401(
    anonymous: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Spec §1: the key as user name and an *empty* password; anything else is a 401."""
    response = await anonymous.get("/me/", auth=(tenant.api_key, "anything"))
    unauthorized_message(response)


async def test_unknown_scheme_is_401_even_with_a_valid_key(
    anonymous: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await anonymous.get("/me/", headers={"Authorization": f"Token {tenant.api_key}"})
    unauthorized_message(response)


async def test_bare_key_without_scheme_is_401(anonymous: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await anonymous.get("/me/", headers={"Authorization": tenant.api_key})
    unauthorized_message(response)


async def test_every_api_endpoint_requires_authentication(anonymous: httpx.AsyncClient) -> None:
    for path in ("/user/", "/user/user_x/", "/organization/orga_x/", "/lead/"):
        unauthorized_message(await anonymous.get(path))


async def test_api_keys_are_stored_hashed(tenant: Tenant, database: Database) -> None:
    async with database.sessions() as session:
        statement = select(ApiKey.__table__).where(ApiKey.user_id == tenant.user_id)
        rows = (await session.execute(statement)).all()
    assert len(rows) == 1
    for value in rows[0]:
        assert tenant.api_key not in str(value)


async def test_path_without_final_slash_works(tenant: Tenant) -> None:
    assert ok(await tenant.client.get("/me"))["id"] == tenant.user_id


async def test_path_with_doubled_slash_works(tenant: Tenant) -> None:
    response = await tenant.client.get("http://testserver/api/v1//me/")
    assert ok(response)["id"] == tenant.user_id


async def test_path_with_doubled_final_slash_works(tenant: Tenant) -> None:
    response = await tenant.client.get("http://testserver/api/v1/user//")
    assert ok(response)["data"][0]["id"] == tenant.user_id
