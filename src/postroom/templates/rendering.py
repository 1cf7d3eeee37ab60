"""Rendering email templates, and the variables they see. Independent of HTTP.

One sandbox configuration (``postroom.templates.sandbox``), two environments: the body is
rendered with HTML autoescaping, the subject without it and then put on one line (each CR, LF
or CRLF becomes a space, as does any other line break or control character, and the ends are
trimmed: the previewed subject is the one an email gets). Templates see four mappings of
strings and nothing else:

- ``contact``: ``first_name``, ``last_name`` (its ``name`` split at the first space), ``name``,
  ``display_name``, ``title``, ``email`` (its first address)
- ``lead``: ``display_name``, ``name``, ``url``, ``description``
- ``user``: ``first_name``, ``last_name``, ``full_name``, ``email``
- ``organization``: ``name``

Missing values are "", and unknown names (``{{ contact.nickname }}``, ``{{ nothing.at.all }}``)
are ``ChainableUndefined`` and render as "". **Choice:** ``default`` (and its alias ``d``) takes
``boolean=True`` unless told otherwise, so ``{{ contact.first_name|default("there") }}`` gives
"there" both when the value is unknown and when it is empty, as Close users expect;
``default("x", false)`` keeps Jinja's own behaviour.

Every failure is a ``TemplateRejected``: a 400 whose field error names ``subject`` or ``body``.
Saving checks that a source compiles and does not plainly leave the sandbox; the rest of the
sandbox's refusals, and runtime errors such as ``{{ 1/0 }}``, surface when rendering.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

from jinja2 import Template, TemplateError
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from sqlalchemy.ext.asyncio import AsyncSession

from postroom.contacts import repository as contact_repository
from postroom.contacts.schemas import contact_display_name
from postroom.errors import ValidationFailed
from postroom.kit.headers import one_line
from postroom.leads.schemas import lead_display_name
from postroom.models import Contact, EmailTemplate, Lead, Organization, User
from postroom.templates.sandbox import Sandbox, joined_output, rendering_budget
from postroom.templates.static_checks import obvious_escape
from postroom.users import repository as user_repository

MAX_TAGS = 1_000
MAX_TOKENS = 20_000
CACHED_SOURCE_LENGTH = 262_144
TOO_DEEP = "The template nests tags, parentheses or brackets too deeply."
_ENVIRONMENTS = {"subject": Sandbox(autoescape=False), "body": Sandbox(autoescape=True)}
_RUNTIME_ERRORS = (
    TemplateError,
    ArithmeticError,
    AttributeError,
    LookupError,
    RecursionError,
    TypeError,
    ValueError,
)
_LINE_BREAK = re.compile(r"\r\n|[\r\n]")

Variables = Mapping[str, Mapping[str, str]]


class TemplateRejected(ValidationFailed):
    """A subject or body that does not compile, breaks the sandbox's rules or fails to render.

    A ``ValidationFailed`` (400) with one field error under ``part`` (``subject`` or ``body``);
    a caller that reports it under another field can read ``part`` and ``reason``.
    """

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(field_errors={part: reason})
        self.part = part
        self.reason = reason


@dataclass(frozen=True)
class RenderedTemplate:
    subject: str
    body: str


@dataclass(frozen=True)
class TemplateContext:
    """The four mappings a template sees; every value is a string ("" when missing)."""

    contact: Mapping[str, str]
    lead: Mapping[str, str]
    user: Mapping[str, str]
    organization: Mapping[str, str]

    def variables(self) -> Variables:
        names = ("contact", "lead", "user", "organization")
        return {name: getattr(self, name) for name in names}


# --- checking and rendering --------------------------------------------------------------------


@lru_cache(maxsize=128)
def _cached(part: str, source: str) -> Template:
    return _ENVIRONMENTS[part].from_string(source)


def _compiled(part: str, source: str) -> Template:
    """Compile in a budget of its own (constant folding runs filters); Jinja's compiler takes
    about half a millisecond per tag, so the number of tags is limited first, and then the
    number of tokens (a tag may hold any number of them). Nesting deeper
    than Jinja's parser or Python's compiler takes (about 60 parentheses, 20 loops or 100
    blocks) is refused: they fail with ``RecursionError`` or Python's own ``SyntaxError``."""
    tags = source.count("{{") + source.count("{%")
    if tags > MAX_TAGS:
        raise TemplateRejected(part, f"A template may have at most {MAX_TAGS} tags.")
    if _has_more_tokens(part, source, MAX_TOKENS):
        message = f"A template may have at most {MAX_TOKENS} tokens (names, numbers, strings, "
        raise TemplateRejected(part, message + "operators, spaces and runs of text).")
    try:
        with rendering_budget():
            if len(source) > CACHED_SOURCE_LENGTH:
                return _ENVIRONMENTS[part].from_string(source)
            return _cached(part, source)
    except (RecursionError, SyntaxError) as error:
        raise TemplateRejected(part, TOO_DEEP) from error


def _has_more_tokens(part: str, source: str, limit: int) -> bool:
    """Whether Jinja's lexer finds more than ``limit`` tokens, reading no further. Compiling
    takes about 40 microseconds a token, so one tag holding a list of 400,000 numbers (800 KB)
    took 17 s to save and again to render."""
    tokens = _ENVIRONMENTS[part].lexer.tokeniter(source, None)
    return sum(1 for _token in islice(tokens, limit + 1)) > limit


def _syntax_message(error: TemplateSyntaxError) -> str:
    return f"Template syntax error on line {error.lineno}: {error.message}"


def check_template(part: str, source: str) -> None:
    """Refuse, naming ``part``, a source that does not compile or plainly leaves the sandbox."""
    try:
        _compiled(part, source)
        with rendering_budget():
            tree = _ENVIRONMENTS[part].parse(source)
    except TemplateSyntaxError as error:
        raise TemplateRejected(part, _syntax_message(error)) from error
    problem = obvious_escape(tree)
    if problem is not None:
        raise TemplateRejected(part, problem)


def render_part(part: str, source: str, variables: Variables) -> str:
    """Render the ``subject`` or ``body`` source; raise ``TemplateRejected`` on any failure."""
    try:
        template = _compiled(part, source)
        with rendering_budget():
            text = joined_output(template.generate(variables))
    except TemplateSyntaxError as error:
        raise TemplateRejected(part, _syntax_message(error)) from error
    except SecurityError as error:
        raise TemplateRejected(part, f"Template refused: {error}") from error
    except _RUNTIME_ERRORS as error:
        raise TemplateRejected(part, f"Template could not be rendered: {error}") from error
    return subject_line(text) if part == "subject" else text


def subject_line(text: str) -> str:
    """A rendered subject as an email gets it: each CR, LF or CRLF a space, then any other
    line break or control character a space too, and no spaces at either end."""
    return one_line(_LINE_BREAK.sub(" ", text))


def render(subject: str, body: str, context: TemplateContext) -> RenderedTemplate:
    """Render a subject and an HTML body for one context."""
    variables = context.variables()
    return RenderedTemplate(
        subject=render_part("subject", subject, variables),
        body=render_part("body", body, variables),
    )


async def check_in_thread(part: str, source: str) -> None:
    """``check_template`` on a worker thread: compiling a large template takes a while."""
    await asyncio.to_thread(check_template, part, source)


async def render_in_thread(subject: str, body: str, context: TemplateContext) -> RenderedTemplate:
    """``render`` on a worker thread, so a slow template does not stall the event loop."""
    return await asyncio.to_thread(render, subject, body, context)


# --- the variables -----------------------------------------------------------------------------


def first_email(contact: Contact) -> str | None:
    return str(contact.emails[0]["email"]) if contact.emails else None


def contact_variables(contact: Contact | None) -> dict[str, str]:
    if contact is None:
        names = ("first_name", "last_name", "name", "display_name", "title", "email")
        return dict.fromkeys(names, "")
    first_name, _, last_name = (contact.name or "").strip().partition(" ")
    return {
        "first_name": first_name,
        "last_name": last_name.strip(),
        "name": contact.name or "",
        "display_name": contact_display_name(contact),
        "title": contact.title or "",
        "email": first_email(contact) or "",
    }


def lead_variables(lead: Lead, contacts: Sequence[Contact]) -> dict[str, str]:
    return {
        "display_name": lead_display_name(lead, contacts),
        "name": lead.name or "",
        "url": lead.url or "",
        "description": lead.description or "",
    }


def user_variables(user: User | None) -> dict[str, str]:
    if user is None:
        return dict.fromkeys(("first_name", "last_name", "full_name", "email"), "")
    return {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "full_name": user.full_name,
        "email": user.email,
    }


def organization_variables(organization: Organization | None) -> dict[str, str]:
    return {"name": organization.name if organization is not None else ""}


async def load_context(
    session: AsyncSession,
    organization_id: str,
    user_id: str | None,
    lead: Lead,
    contact: Contact | None,
) -> TemplateContext:
    """The variables for ``lead`` and ``contact`` as ``user_id`` sends to them.

    The caller has checked that the lead is the organization's and the contact one of the lead's.
    """
    contacts = await contact_repository.contacts_of_leads(session, organization_id, [lead.id])
    user = None
    if user_id is not None:
        user = await user_repository.get_user(session, organization_id, user_id)
    organization = await user_repository.get_organization(session, organization_id)
    return TemplateContext(
        contact=contact_variables(contact),
        lead=lead_variables(lead, contacts),
        user=user_variables(user),
        organization=organization_variables(organization),
    )


async def render_for(
    session: AsyncSession,
    organization_id: str,
    user_id: str | None,
    template: EmailTemplate,
    lead: Lead,
    contact: Contact | None,
) -> RenderedTemplate:
    """Render ``template`` for an email to ``contact`` of ``lead`` sent by ``user_id``."""
    context = await load_context(session, organization_id, user_id, lead, contact)
    return await render_in_thread(template.subject, template.body, context)
