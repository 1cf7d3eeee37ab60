"""Refusals a template gets when it is saved, before it ever runs: the plain attempts to leave
the sandbox (``sandbox.Sandbox`` refuses the same things again while rendering)."""

from __future__ import annotations

from jinja2 import nodes

INCLUDES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def _static_problem(node: nodes.Node) -> str | None:
    if isinstance(node, INCLUDES):
        return "Templates may not include, import or extend other templates."
    name = node.attr if isinstance(node, nodes.Getattr) else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        name = node.arg.value
    if isinstance(name, str) and name.startswith("_"):
        return f"Templates may not use private attributes such as {name!r}."
    return None


def obvious_escape(tree: nodes.Template) -> str | None:
    """Why a parsed template plainly tries to leave the sandbox, or None."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, *INCLUDES)):
        problem = _static_problem(node)
        if problem is not None:
            return problem
    return None
