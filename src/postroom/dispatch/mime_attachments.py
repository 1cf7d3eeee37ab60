"""How an attachment is presented in its MIME part: its payload, a name with no control
character or path separator, the media type it is sent as, and its ``Content-ID``.

An attachment's content type is sent as ``type/subtype`` (with a ``charset`` for text):
anything else, and the multipart and message types a base64 part may not have (RFC 2045
§6.4, RFC 2046 §5.2.1), is sent as ``application/octet-stream``. A ``Content-ID`` is one
token of ASCII in angle brackets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PATH_SEPARATORS = re.compile(r"[/\\]")
_NOT_IN_CONTENT_ID = re.compile(r"[\x00-\x20\x7f<>]+")
_MIME_NAME_CHARS = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_MEDIA_TYPE = re.compile(rf"\s*({_MIME_NAME_CHARS})/({_MIME_NAME_CHARS})\s*(?:;.*)?", re.DOTALL)
_CHARSET = re.compile(rf";\s*charset\s*=\s*\"?({_MIME_NAME_CHARS})\"?\s*(?:;|$)", re.IGNORECASE)
OPAQUE_TYPE = ("application", "octet-stream")
"""What an attachment whose content type cannot be sent as it is goes as."""
CONTENT_ID_LENGTH = 255
"""Characters of a ``Content-ID`` inside its brackets, at most: what a posted ``content_id``
may have. One made from a name is cut to it, or its line could pass RFC 5322's 998."""
CONTAINER_TYPES = frozenset({"multipart", "message"})
"""Types whose parts may not be base64 (RFC 2045 §6.4): a part saying ``multipart/mixed``
would be read as parts with no boundary, ``message/rfc822`` as a message of garbage."""


@dataclass(frozen=True)
class AttachmentPayload:
    """An attachment's bytes and how to present them; ``content_id`` makes it inline."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


def safe_filename(filename: str) -> str:
    """No control character (CR, LF, NUL ...) can reach a header parameter, and no path
    separator a receiving client might follow out of its folder (``../x`` is ``.._x``)."""
    name = _PATH_SEPARATORS.sub("_", _CONTROL.sub(" ", filename)).strip()
    return name if name.strip(".") else "attachment"


def sent_media_type(content_type: str) -> tuple[str, str, str | None]:
    """``(maintype, subtype, charset)`` of an attachment as it is sent: the posted type
    without its parameters (but a text type's ``charset``), in lower case, or
    ``application/octet-stream`` when it is no media type or a container type."""
    match = _MEDIA_TYPE.fullmatch(content_type)
    if match is None or match[1].lower() in CONTAINER_TYPES:
        return (*OPAQUE_TYPE, None)
    maintype, subtype = match[1].lower(), match[2].lower()
    charset = _CHARSET.search(content_type) if maintype == "text" else None
    return maintype, subtype, charset[1].lower() if charset else None


def content_id(item: AttachmentPayload) -> str:
    """The part's ``Content-ID``: its ``content_id`` (else its name) as one token of ASCII in
    angle brackets, so the HTML's ``cid:`` reference finds it; a character that is not ASCII
    (a name in Cyrillic) is percent-encoded, as RFC 2392 writes it in a ``cid:`` URL. Cut
    after the last whole character that fits in ``CONTENT_ID_LENGTH``."""
    core = _NOT_IN_CONTENT_ID.sub("", item.content_id or safe_filename(item.filename))
    encoded, size = [], 0
    for char in core:
        size += len(piece := char if char.isascii() else quote(char, safe=""))
        if size > CONTENT_ID_LENGTH:
            break
        encoded.append(piece)
    return f"<{''.join(encoded) or 'attachment'}>"
