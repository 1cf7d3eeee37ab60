"""Text helpers: plain text from HTML (inscriptis: keeps the layout of lists, tables and
paragraphs), and the alphabetical order of names."""

from __future__ import annotations

import unicodedata

from inscriptis import get_text


def html_to_text(html: str) -> str:
    return str(get_text(html)).strip()


def sort_key(name: str) -> tuple[str, str]:
    """A name as an alphabetical list orders it: letters without their accents and case
    first (``Åberg`` beside ``Aberg``, not after ``Zeta``), then the name itself. Sorted in
    Python so that both engines agree (their collations do not)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)), name
