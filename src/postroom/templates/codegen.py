"""Jinja's code generator, writing every constant as Python that evaluates to it.

Jinja folds constant expressions while compiling and writes the result with ``repr``: a folded
``'1e400'|float`` became the name ``inf`` (``nan`` likewise, alone or inside a folded tuple,
list or dict), and rendering raised ``NameError``, which escaped as a 500.
"""

from __future__ import annotations

import math
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame


def python_literal(value: Any) -> str:
    """Python source for a folded constant: ``repr``, but ``float('inf')`` for what is not
    finite, inside tuples, lists and dicts too."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, tuple):
        items = "".join(f"{python_literal(item)}, " for item in value)
        return f"({items})"
    if isinstance(value, list):
        return "[" + ", ".join(map(python_literal, value)) + "]"
    if isinstance(value, dict):
        pairs = (f"{python_literal(k)}: {python_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return str(value) if isinstance(value, float) else repr(value)


class LiteralCodeGenerator(CodeGenerator):
    def visit_Const(self, node: nodes.Const, frame: Frame) -> None:
        self.write(python_literal(node.as_const(frame.eval_ctx)))
