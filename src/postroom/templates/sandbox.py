"""The sandbox that email templates run in: what it refuses and what it meters.

Jinja's ``ImmutableSandboxedEnvironment`` already refuses private attributes (``_`` prefixed),
Python internals and methods that mutate lists, dicts and sets. ``Sandbox`` goes further:

- a refused attribute raises ``SecurityError`` at once (``''.__class__``,
  ``cycler.__init__.__globals__``, ``x|attr("__mro__")``), where Jinja would hand back an
  undefined value that renders as "";
- only a short list of harmless methods is reachable (on strings ``upper``, ``split`` ...; on
  mappings ``get``, ``items`` ...; none on numbers), only the filters in ``_FILTERS`` exist, and
  there are no globals (no ``range``, ``lipsum``, ``cycler``, ``joiner``, ``namespace``);
- ``str.format``/``format_map``, ``%`` on strings and the ``format`` filter are refused (their
  widths can allocate gigabytes); there is no loader, so ``include``/``import``/``extends`` fail;
- no value or output may exceed ``MAX_VALUE`` characters (checked before ``*``, ``**``, ``+``,
  ``replace`` and ``join`` compute, after every ``~`` and captured block, and for every list,
  tuple and dict a template writes, counting what it holds as often as it holds it, so
  nesting one list in another many times cannot make a value whose text or size is huge);
- ``tojson`` writes at most ``MAX_VALUE`` characters and indents by at most ``MAX_INDENT``;
- each rendering (and each compilation, which folds constants) runs in a ``rendering_budget``
  of ``MAX_WORK`` units and ``MAX_SECONDS``: a loop step costs ``STEP_COST``, a call (method,
  macro, ``loop()``) ``CALL_COST``, a filter ``FILTER_COST`` plus the size of its arguments, and
  operators, comparisons, tests, ``~`` and ``{{ }}`` outputs the size of what they handle.
  ``_Meter`` adds metering filters (``_steps``, ``_size``, ``_text``, ``_container``; harmless
  if a template names them) to the parsed tree for what Jinja runs without asking the environment.

Every refusal is a ``jinja2.exceptions.SecurityError`` raised before the refused thing runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import update_wrapper
from typing import Any

from jinja2 import ChainableUndefined, DictLoader, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import do_default, do_replace, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context, pass_eval_context
from jinja2.visitor import NodeTransformer

from postroom.templates.codegen import LiteralCodeGenerator

MAX_VALUE = 1_048_576
MAX_WORK = 4 * MAX_VALUE
MAX_SECONDS = 1.0
STEP_COST = 100
CALL_COST = 1_000
FILTER_COST = 10
ITEM_COST = 10
MAX_INT_BITS = 10_000
MAX_INDENT = 8

_STR_METHODS = frozenset(
    "capitalize casefold count endswith find index isalnum isalpha isdigit islower isspace "
    "istitle isupper join lower lstrip partition removeprefix removesuffix replace rfind rindex "
    "rpartition rsplit rstrip split splitlines startswith strip swapcase title upper".split()
)
_SAFE_ATTRIBUTES: tuple[tuple[type | tuple[type, ...], frozenset[str]], ...] = (
    (str, _STR_METHODS),
    (dict, frozenset({"get", "items", "keys", "values"})),
    ((list, tuple), frozenset({"count", "index"})),
    ((int, float), frozenset()),
)
_FILTERS = (
    "abs attr capitalize count dictsort e escape first float forceescape int items last length "
    "list lower map max min reject rejectattr reverse round safe select selectattr sort string "
    "striptags title tojson trim truncate unique upper urlencode wordcount".split()
)


@dataclass
class _Budget:
    work_left: int
    deadline: float


_current_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def rendering_budget() -> Iterator[None]:
    """Every compilation and rendering runs inside one: fresh work units and deadline."""
    token = _current_budget.set(_Budget(MAX_WORK, time.monotonic() + MAX_SECONDS))
    try:
        yield
    finally:
        _current_budget.reset(token)


def _spend(units: int) -> None:
    """Charge the rendering under way; outside one (never expected) nothing may run."""
    budget = _current_budget.get()
    if budget is None:
        raise SecurityError("templates run only inside a rendering budget.")
    budget.work_left -= units
    if budget.work_left < 0 or time.monotonic() > budget.deadline:
        raise SecurityError("the template does too much work.")


def _check_size(size: int) -> None:
    if size > MAX_VALUE:
        raise SecurityError(f"a value would exceed {MAX_VALUE} characters.")
    _spend(size)


def _shallow(value: Any) -> int:
    """The cost of handling ``value`` once: its characters, or ``ITEM_COST`` per item."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple | dict | set | frozenset):
        return ITEM_COST * len(value)
    return 1


def _weight(value: Any, limit: int = MAX_WORK) -> int:
    """About how many characters ``str(value)`` has, without building it; counting stops
    past ``limit`` (a list holding itself many times over would take exponential time)."""
    total, pending = 0, [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple):
            total += len(item)
            pending.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        else:
            total += 1
    return total


def _int_bits(operator: str, left: int, right: int) -> int:
    if operator == "**":
        return max(left.bit_length(), 1) * max(right, 0)
    if operator == "*":
        return left.bit_length() + right.bit_length()
    return max(left.bit_length(), right.bit_length()) + 1


def _binop_size(operator: str, left: Any, right: Any) -> int:
    if isinstance(left, int) and isinstance(right, int):
        if _int_bits(operator, left, right) > MAX_INT_BITS:
            raise SecurityError("that number would be too large.")
        return 1
    if operator == "+":
        return _weight(left) + _weight(right) if isinstance(left, str | list | tuple) else 1
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(count, int):
            return _weight(sequence) * max(count, 0)
    return 1


def _replace_size(text: str, old: str, new: str, count: int) -> int:
    found = len(text) + 1 if not old else text.count(old)
    if count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _join_size(separator: str, items: Sequence[Any]) -> int:
    return sum(map(_weight, items)) + len(separator) * len(items)


def _refuse_formatting(*args: Any, **kwargs: Any) -> str:
    raise SecurityError("string formatting is not available in templates; use {{ }} tags.")


def _charged(filter_function: Callable[..., Any]) -> Callable[..., Any]:
    """Charge a filter the size of its arguments; keeps its ``pass_*`` marker."""

    def charged(*args: Any, **kwargs: Any) -> Any:
        _spend(FILTER_COST + sum(map(_shallow, args)))
        return filter_function(*args, **kwargs)

    return update_wrapper(charged, filter_function)


def _default(value: Any, default_value: Any = "", boolean: bool = True) -> Any:
    """Jinja's ``default``, but an empty value counts as missing unless ``boolean`` is false."""
    return do_default(value, default_value, boolean)


@pass_eval_context
def _replace(eval_ctx: EvalContext, text: str, old: str, new: str, count: int | None = None) -> str:
    _check_size(_replace_size(str(text), str(old), str(new), -1 if count is None else count))
    return do_replace(eval_ctx, text, old, new, count)


@pass_eval_context
def _join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | None = None
) -> str:
    items = list(value)
    _check_size(_join_size(str(d), items))
    return sync_do_join(eval_ctx, items, d, attribute)


@pass_context
def _metered_steps(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _spend(STEP_COST)
        yield item


@pass_context
def _metered_value(context: Context, value: Any) -> Any:
    _spend(_shallow(value))
    return value


@pass_context
def _checked_text(context: Context, text: str) -> str:
    _check_size(len(text))
    return text


@pass_context
def _checked_container(context: Context, value: Any) -> Any:
    """A list, tuple or dict the template wrote, refused if it holds too much."""
    _check_size(_weight(value, MAX_VALUE))
    return value


def _bounded_json(value: Any, indent: int | str | None = None, **kwargs: Any) -> str:
    """``json.dumps`` for ``tojson``: a small indent, and refused as soon as the text would
    exceed ``MAX_VALUE`` characters (an indent repeats on every line, at every depth)."""
    if isinstance(indent, bool) or not isinstance(indent, int | str | None):
        raise SecurityError("tojson's indent must be a number of spaces.")
    if indent is not None and (len(indent) if isinstance(indent, str) else indent) > MAX_INDENT:
        raise SecurityError(f"tojson may indent by at most {MAX_INDENT} spaces.")
    chunks = json.JSONEncoder(indent=indent, **kwargs).iterencode(value)
    return joined_output(map(_charged_text, chunks))


def _charged_text(text: str) -> str:
    _spend(len(text))
    return text


def _charged_output(value: Any) -> Any:
    """The ``finalize`` hook: every ``{{ }}`` output costs its size."""
    _spend(_weight(value))
    return value


def _checked_concat(parts: Iterable[str]) -> str:
    chunks = list(parts)
    _check_size(sum(map(len, chunks)))
    return "".join(chunks)


def _checked_call_args(method: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Check ``str.replace`` and ``str.join`` before they run (``join``'s items as a list)."""
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if isinstance(owner, str) and name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 and isinstance(args[2], int) else -1
        _check_size(_replace_size(owner, str(args[0]), str(args[1]), count))
    elif isinstance(owner, str) and name == "join" and len(args) == 1:
        args = (list(args[0]),)
        _check_size(_join_size(owner, args[0]))
    return args


def _metered(node: nodes.Node, filter_name: str) -> nodes.Filter:
    return nodes.Filter(node, filter_name, [], [], None, None, lineno=node.lineno)


class _Meter(NodeTransformer):
    """Routes what Jinja runs without asking the environment through the metering filters:
    loop steps, ``~`` results, the lists, tuples and dicts a template writes, and the operands
    of comparisons and tests."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _metered(node.iter, "_steps")
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _metered(node, "_text")

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        node.expr = _metered(node.expr, "_size")
        for operand in node.ops:
            operand.expr = _metered(operand.expr, "_size")
        return node

    def visit_List(self, node: nodes.List) -> nodes.Node:
        self.generic_visit(node)
        return _metered(node, "_container")

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        return _metered(node, "_container")

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
        self.generic_visit(node)
        return _metered(node, "_container") if node.ctx == "load" else node

    def visit_Test(self, node: nodes.Test) -> nodes.Node:
        self.generic_visit(node)
        node.node = _metered(node.node, "_size")
        node.args = [_metered(argument, "_size") for argument in node.args]
        return node


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with this module's refusals and meters."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = LiteralCodeGenerator
    concat = staticmethod(_checked_concat)

    def __init__(self, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=ChainableUndefined,
            loader=DictLoader({}),
            finalize=_charged_output,
        )
        self.globals.clear()
        self.filters = {name: _charged(self.filters[name]) for name in _FILTERS}
        self.filters.update(default=_charged(_default), d=_charged(_default))
        self.filters.update(replace=_replace, join=_join, format=_refuse_formatting)
        self.filters.update(_steps=_metered_steps, _size=_metered_value, _text=_checked_text)
        self.filters.update(_container=_checked_container)
        self.policies["json.dumps_function"] = _bounded_json

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _Meter().generic_visit(tree)
        tree.set_environment(self)
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        for kind, allowed in _SAFE_ATTRIBUTES:
            if isinstance(obj, kind) and attr not in allowed:
                return False
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        kind = type(obj).__name__
        raise SecurityError(f"access to attribute {attribute!r} of a {kind!r} is not allowed.")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return None if super().wrap_str_format(value) is None else _refuse_formatting

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            _refuse_formatting()
        _check_size(_binop_size(operator, left, right))
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _spend(CALL_COST + _shallow(getattr(obj, "__self__", None)))
        return super().call(context, obj, *_checked_call_args(obj, args), **kwargs)


def joined_output(chunks: Iterable[str]) -> str:
    """A rendering's output, refused as soon as it exceeds ``MAX_VALUE`` characters."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_VALUE:
            raise SecurityError(f"the output would exceed {MAX_VALUE} characters.")
        parts.append(chunk)
    return "".join(parts)
