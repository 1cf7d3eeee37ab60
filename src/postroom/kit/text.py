"""Text helpers: plain text from HTML (inscriptis: keeps the layout of lists, tables and
paragraphs), and the alphabetical order of names.

``html_to_text`` is the text of the HTML alone (previews); ``html_to_text_part`` is what a
reader of the text alternative of an email needs: the text, and after each link its target
in angle brackets (``Pay <https://pay.example.com/>``), as mail clients write it, since the
words of a link are no use without where it leads.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_document_state import HtmlDocumentState
from inscriptis.model.tag import CustomHtmlTagHandlerMapping

SHOWN_SCHEMES = ("http://", "https://", "mailto:", "tel:", "ftp://")
"""Link targets a reader can follow from the text; ``#anchor``, ``cid:`` and ``javascript:``
mean nothing there."""


def html_to_text(html: str) -> str:
    return str(get_text(html)).strip()


def sort_key(name: str) -> tuple[str, str]:
    """A name as an alphabetical list orders it: letters without their accents and case
    first (``Åberg`` beside ``Aberg``, not after ``Zeta``), then the name itself. Sorted in
    Python so that both engines agree (their collations do not)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)), name


def html_to_text_part(html: str) -> str:
    return str(get_text(html, _with_links())).strip()


def _link_start(state: HtmlDocumentState, attrs: dict[str, str]) -> None:
    href = (attrs.get("href") or "").strip()
    state.link_target = href if href.lower().startswith(SHOWN_SCHEMES) else ""


def _link_end(state: HtmlDocumentState) -> None:
    if state.link_target:
        state.tags[-1].write(f" <{state.link_target}>")
        state.link_target = ""


@cache
def _with_links() -> ParserConfig:
    """Built on first use: nothing of it is needed to import the module."""
    return ParserConfig(
        custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(
            start_tag_mapping={"a": _link_start}, end_tag_mapping={"a": _link_end}
        )
    )


_NOT_STORABLE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` as every database and JSON column can hold it: what a server said in another
    charset than UTF-8 (``surrogateescape``: "f\\udcfcr" for Latin-1's "für") is read as
    Latin-1, any other lone surrogate becomes U+FFFD, and NUL is dropped (PostgreSQL's text
    and ``jsonb`` refuse it; SQLite stored a surrogate but could not read it back)."""
    if text.isascii() or not _NOT_STORABLE.search(text):
        return text.replace("\x00", "")
    if _only_escaped(text):
        cleaned = _utf8_else_latin1(text.encode("utf-8", "surrogateescape"))
    else:
        cleaned = _NOT_STORABLE.sub("\ufffd", text)
    return cleaned.replace("\x00", "")


def _only_escaped(text: str) -> bool:
    """Every surrogate in ``text`` is one ``surrogateescape`` made of a byte over 0x7f."""
    return all("\udc80" <= char <= "\udcff" for char in _NOT_STORABLE.findall(text))


def _utf8_else_latin1(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
