"""Who is calling: API keys from HTTP Basic (key as user name) or a Bearer token."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import timezone

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.errors import Unauthorized, ValidationFailed
from postroom.kit.datetimes import parse_tz_offset
from postroom.users import repository


@dataclass(frozen=True)
class Caller:
    """The authenticated user, their organization and the request's time zone."""

    organization_id: str
    user_id: str
    user_email: str
    user_name: str
    api_key_id: str
    tz: timezone | None = None
    request_id: str | None = None
    request_method: str | None = None
    request_path: str | None = None
    public_url: str = ""


def hash_api_key(raw_key: str) -> str:
    """SHA-256 of the key: keys are 256-bit random, so a fast hash is safe and cheap."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_from_header(authorization: str | None) -> str | None:
    """The API key carried by an ``Authorization`` header, or None."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    if scheme.lower() == "basic":
        return _key_from_basic(credentials.strip())
    return None


def _key_from_basic(credentials: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except ValueError:  # binascii.Error, UnicodeDecodeError, or non-ASCII input
        return None
    user_name, _, password = decoded.partition(":")
    if password:  # Close: the key as user name and an empty password; anything else is refused
        return None
    return user_name or None


def _tz_offset(request: Request) -> timezone | None:
    try:
        return parse_tz_offset(request.headers.get("x-tz-offset"))
    except ValueError:
        raise ValidationFailed(
            ["X-TZ-Offset must be the hours between UTC and local time, e.g. -5.0 or 5.5."]
        ) from None


async def authenticate_request(request: Request, session: AsyncSession) -> Caller:
    raw_key = api_key_from_header(request.headers.get("authorization"))
    if raw_key is None:
        raise Unauthorized("Authentication required: use your API key as the Basic user name.")
    owner = await repository.find_key_owner(session, hash_api_key(raw_key))
    if owner is None:
        raise Unauthorized("The API key is not valid.")
    return Caller(
        organization_id=owner.organization_id,
        user_id=owner.user_id,
        user_email=owner.email,
        user_name=owner.full_name,
        api_key_id=owner.api_key_id,
        tz=_tz_offset(request),
        request_id=getattr(request.state, "request_id", None),
        request_method=request.method,
        request_path=request.url.path,
        public_url=request.app.state.settings.public_url,
    )
