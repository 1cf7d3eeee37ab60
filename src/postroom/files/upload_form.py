"""The body of a signed upload, parsed as it arrives.

The form is S3's POST form: the grant's fields, then ``file``. ``SignedUploadForm`` reads it
in two steps, so that a request can be refused before its file is taken in:

- ``fields()`` reads up to the headers of the file part and no further (at most
  ``FIELDS_BYTES`` may come before them): the grant's fields are checked while the file's
  bytes still wait in the connection.
- ``file_chunks()`` then passes the file's bytes on as they arrive, nothing spooled, and reads
  the rest of the body. Text parts after the file are ignored, as S3 ignores them; a second
  file, or a body that ends inside the file part, is refused.

Every refusal is a ``ValidationFailed`` (Close's 400).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from postroom.errors import ValidationFailed

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FIELDS_BYTES = 64 * 1024
"""What may come before the file part; the grant's three fields take about 150 bytes."""
FIELD_BYTES = 4096
MAX_FIELDS = 16
FILE_PART = "file"


def invalid_form(message: str) -> ValidationFailed:
    return ValidationFailed([f"Invalid upload form: {message}"])


def no_file_part() -> ValidationFailed:
    return ValidationFailed.field(FILE_PART, "Send the file's content in a part named file.")


class SignedUploadForm:
    """The grant's fields, then the file's bytes, of a multipart body read from ``stream``."""

    def __init__(self, content_type: str, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._parts = _Parts()
        self._parser = _parser(content_type, self._parts)

    async def fields(self) -> dict[str, str]:
        """The text fields before the file part, read up to that part's headers; a field
        error on ``file`` when the form has none."""
        while not self._parts.file_started:
            if self._parts.ended or not await self._read():
                raise no_file_part()
        return dict(self._parts.fields)

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; then the rest of the body is read."""
        while True:
            for chunk in self._parts.take_file_data():
                yield chunk
            if self._parts.file_ended:
                break
            if not await self._read():
                raise ValidationFailed.field(FILE_PART, "The form ends inside the file.")
        while await self._read():
            pass
        if not self._parts.ended:
            raise invalid_form("the body ends before its closing boundary.")

    async def _read(self) -> bool:
        """Parse the next chunk of the body; False once there is none."""
        try:
            chunk = await anext(self._stream)
        except StopAsyncIteration:
            return False
        except ClientDisconnect as error:
            raise ValidationFailed(["The upload was interrupted."]) from error
        try:
            self._parser.write(chunk)
        except FormParserError as error:
            raise invalid_form("Invalid multipart data.") from error
        return True


def _parser(content_type: str, parts: _Parts) -> MultipartParser:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise invalid_form("Missing boundary in multipart.")
    try:
        return MultipartParser(boundary, parts.callbacks())
    except FormParserError as error:
        raise invalid_form(str(error)) from error


class _Parts:
    """What python-multipart's callbacks have found so far: the fields before the file, the
    file's bytes not passed on yet, and where the parser is."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.file_data: list[bytes] = []
        self.file_started = self.file_ended = self.ended = False
        self._before_file = 0
        self._field_count = 0
        self._in_file = False
        self._name = ""
        self._value = bytearray()
        self._header = (bytearray(), bytearray())
        self._disposition = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_name,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def take_file_data(self) -> list[bytes]:
        """The file's bytes parsed since the last call."""
        data, self.file_data = self.file_data, []
        return data

    def _part_begin(self) -> None:
        self._name, self._value, self._disposition = "", bytearray(), b""

    def _header_name(self, data: bytes, start: int, end: int) -> None:
        self._count_before_file(end - start)
        self._header[0].extend(data[start:end])

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_before_file(end - start)
        self._header[1].extend(data[start:end])

    def _count_before_file(self, size: int) -> None:
        """Headers and fields before the file part may take ``FIELDS_BYTES`` in all."""
        if self.file_started:
            return
        self._before_file += size
        if self._before_file > FIELDS_BYTES:
            limit = FIELDS_BYTES // 1024
            raise invalid_form(f"the fields before the file may take at most {limit} KB.")

    def _header_end(self) -> None:
        name, value = self._header
        if name.lower() == b"content-disposition":
            self._disposition = bytes(value)
        self._header = (bytearray(), bytearray())

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise invalid_form('The Content-Disposition header field "name" must be provided.')
        self._name = _text(options[b"name"])
        if b"filename" in options:
            self._start_file()
        else:
            self._count_field()

    def _start_file(self) -> None:
        if self.file_started:
            raise invalid_form("Too many files. Maximum number of files is 1.")
        if self._name != FILE_PART:
            raise no_file_part()
        self.file_started = self._in_file = True

    def _count_field(self) -> None:
        self._field_count += 1
        if self._field_count > MAX_FIELDS:
            raise invalid_form(f"Too many fields. Maximum number of fields is {MAX_FIELDS}.")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.file_data.append(data[start:end])
            return
        self._count_before_file(end - start)
        if len(self._value) + end - start > FIELD_BYTES:
            raise invalid_form(f"Part exceeded maximum size of {FIELD_BYTES // 1024}KB.")
        self._value += data[start:end]

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file, self.file_ended = False, True
        elif not self.file_started:
            self.fields[self._name] = _text(bytes(self._value))

    def _end(self) -> None:
        self.ended = True


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
