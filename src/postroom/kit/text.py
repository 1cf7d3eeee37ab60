"""Plain text from HTML (inscriptis: keeps the layout of lists, tables and paragraphs)."""

from __future__ import annotations

from inscriptis import get_text


def html_to_text(html: str) -> str:
    return str(get_text(html)).strip()
