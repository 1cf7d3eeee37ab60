"""The template sandbox on its own: variables, escaping, refusals and bounded work (§3)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from postroom.models import Contact
from postroom.templates.rendering import (
    MAX_TAGS,
    MAX_TOKENS,
    TOO_DEEP,
    TemplateContext,
    TemplateRejected,
    check_template,
    contact_variables,
    render,
    render_part,
)
from postroom.templates.sandbox import MAX_INDENT, MAX_VALUE

CONTEXT = TemplateContext(
    contact=contact_variables(Contact(name="Jane <b>Doe</b>", title="CEO", emails=[])),
    lead={"display_name": "Acme", "name": "Acme", "url": "", "description": "d" * 100_000},
    user={"first_name": "Sam", "last_name": "Sender", "full_name": "Sam Sender", "email": ""},
    organization={"name": "Postroom Inc"},
)
NAMELESS = TemplateContext(
    contact_variables(None), CONTEXT.lead, CONTEXT.user, CONTEXT.organization
)

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.system('id') }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "{{ contact.__class__ }}",
    "{{ contact['__class__'] }}",
    "{{ contact|attr('__class__') }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ '{0.__class__.__mro__}'.format(contact) }}",
    "{{ '{0}'.format_map(contact) }}",
    "{{ contact.update({'first_name': 'x'}) }}",
    "{{ (1).to_bytes(10, 'big') }}",
    "{{ contact.name.encode() }}",
    "{{ '%s' % contact }}",
    "{{ contact|format }}",
    "{% include 'other' %}",
    "{% import 'other' as other %}",
    "{% extends 'other' %}",
]
OVERSIZED = [
    "{{ 'x' * 10**9 }}",
    "{{ [lead.description] * 100 }}",
    "{{ 9**99999 }}",
    "{{ (2**9000) * (2**9000) }}",
    "{{ lead.description|replace('', lead.description) }}",
    "{{ lead.description.replace('d', lead.description) }}",
    "{{ (lead.description|list)|join(lead.description) }}",
    "{{ lead.description.join(lead.description|list) }}",
    "{% set a = lead.description ~ lead.description %}{% set a = a ~ a %}{% set b = a ~ a %}"
    "{% set c = b ~ b %}",
    "{% set a %}{% for c in lead.description %}{{ lead.description }}{% endfor %}{% endset %}",
    "{% for a in lead.description %}{% for b in lead.description %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "{% for c in lead.description %}{{ lead.description }}{% endfor %}",
    "{% set a = [lead.description] %}{% set b = [a, a, a, a, a, a, a, a, a, a, a] %}"
    "{{ b|string|length }}",
    "{% set d = {'a': lead.description} %}{{ (d, d, d, d, d, d, d, d, d, d, d)|tojson }}",
    "{{ (lead.description * 3)|list|tojson }}",
    "{{ contact|tojson(10**9) }}",
]
NESTED_TOO_DEEP = [
    "{{ " + "(" * 100 + "1" + ")" * 100 + " }}",
    "{{ " + "[" * 100 + "1" + "]" * 100 + " }}",
    "{{ " + "not " * 3000 + "1 }}",
    "{{ 1" + "|upper" * 3000 + " }}",
    "{% for a in 'x' %}" * 25 + "{% endfor %}" * 25,
    "{% if 1 %}" * 120 + "{% endif %}" * 120,
]


def test_variables_render_by_name() -> None:
    body = (
        "{{ contact.first_name }}|{{ contact.last_name }}|{{ contact.title }}|{{ lead.name }}"
        "|{{ user.full_name }}|{{ organization.name }}"
    )
    assert render_part("body", body, CONTEXT.variables()) == (
        "Jane|&lt;b&gt;Doe&lt;/b&gt;|CEO|Acme|Sam Sender|Postroom Inc"
    )


def test_contact_name_is_split_at_the_first_space() -> None:
    variables = contact_variables(Contact(name="Mary Ann Smith", emails=[]))
    assert (variables["first_name"], variables["last_name"]) == ("Mary", "Ann Smith")


def test_a_contact_without_name_has_empty_first_and_last_names() -> None:
    variables = contact_variables(Contact(name=None, emails=[{"email": "a@example.com"}]))
    assert (variables["first_name"], variables["last_name"]) == ("", "")
    assert variables["display_name"] == variables["email"] == "a@example.com"


@pytest.mark.parametrize(
    "source", ["{{ contact.nickname }}", "{{ nothing.at.all }}", "{{ x[0].y }}"]
)
def test_unknown_names_render_as_empty(source: str) -> None:
    assert render_part("body", f"[{source}]", CONTEXT.variables()) == "[]"


def test_default_applies_to_an_empty_value() -> None:
    source = 'Hi {{ contact.first_name|default("there") }}'
    assert render_part("body", source, NAMELESS.variables()) == "Hi there"


def test_default_applies_to_an_unknown_value() -> None:
    source = '{{ contact.nickname|default("there") }} {{ nothing.at.all|d("you") }}'
    assert render_part("body", source, CONTEXT.variables()) == "there you"


def test_default_keeps_a_present_value() -> None:
    source = '{{ contact.first_name|default("there") }}'
    assert render_part("body", source, CONTEXT.variables()) == "Jane"


def test_default_with_boolean_false_keeps_an_empty_value() -> None:
    source = '[{{ contact.first_name|default("there", false) }}]'
    assert render_part("body", source, NAMELESS.variables()) == "[]"


def test_the_body_is_html_escaped_and_its_own_markup_kept() -> None:
    rendered = render("s", "<p>{{ contact.last_name }}</p>", CONTEXT)
    assert rendered.body == "<p>&lt;b&gt;Doe&lt;/b&gt;</p>"


def test_the_subject_is_not_html_escaped() -> None:
    assert render("{{ contact.last_name }} & co", "b", CONTEXT).subject == "<b>Doe</b> & co"


def test_a_rendered_subject_has_no_line_breaks() -> None:
    context = TemplateContext(
        contact={"first_name": "Ja\r\nne", "last_name": "D\roe\n"},
        lead=CONTEXT.lead,
        user=CONTEXT.user,
        organization=CONTEXT.organization,
    )
    source = "Hi\n{{ contact.first_name }} {{ contact.last_name }}\r\n!"
    assert render(source, "b", context).subject == "Hi Ja ne D oe  !"


def test_loops_methods_and_filters_still_work() -> None:
    source = (
        "{% for word in contact.name.split() %}{{ loop.index }}{{ word|upper }},{% endfor %}"
        "{{ lead.name|replace('A', 'a')|title }} {{ ['b', 'a']|sort|join('-') }}"
    )
    assert render_part("subject", source, CONTEXT.variables()) == "1JANE,2<B>DOE</B>,Acme a-b"


@pytest.mark.parametrize("part", ["subject", "body"])
@pytest.mark.parametrize("source", ESCAPES)
def test_reaching_python_internals_is_refused_when_rendering(part: str, source: str) -> None:
    with pytest.raises(TemplateRejected) as caught:
        render_part(part, source, CONTEXT.variables())
    assert set(caught.value.field_errors) == {part}
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    "source",
    [
        "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}"
        "{% if x.__name__ == 'Popen' %}{{ x(['touch', 'MARKER']) }}{% endif %}{% endfor %}",
        "{{ ''.__class__.__mro__[1].__subclasses__()[0]('touch MARKER') }}",
        "{{ lipsum.__globals__.os.popen('touch MARKER').read() }}",
        "{{ self.__init__.__globals__.__builtins__.open('MARKER', 'w') }}",
        "{{ contact|attr('__class__')|attr('__init__')|attr('__globals__') }}",
    ],
)
def test_an_escape_attempt_executes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for part in ("subject", "body"):
        with pytest.raises(TemplateRejected):
            render_part(part, source, CONTEXT.variables())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("source", OVERSIZED)
def test_work_and_size_are_bounded(source: str) -> None:
    with pytest.raises(TemplateRejected) as caught:
        render_part("body", source, CONTEXT.variables())
    assert "Template refused" in caught.value.reason


def test_a_list_holding_another_many_times_over_is_refused_at_once() -> None:
    """Each level holds the one before 8 times: 8**12 strings if it were ever counted out."""
    levels = ["s"] + [f"l{depth}" for depth in range(12)]
    source = "{% set s = 'x' %}" + "".join(
        f"{{% set {levels[depth + 1]} = [{', '.join([levels[depth]] * 8)}] %}}"
        for depth in range(12)
    )
    for tail in ("{{ l11 }}", "{{ l11|string }}", "{{ l11|join }}", "{{ l11|tojson }}"):
        started = time.monotonic()
        with pytest.raises(TemplateRejected) as caught:
            render_part("body", source + tail, CONTEXT.variables())
        assert "Template refused" in caught.value.reason
        assert time.monotonic() - started < 1


def test_tojson_writes_json_indented_by_a_few_spaces() -> None:
    variables = CONTEXT.variables()
    assert render_part("body", "{{ ['<a>', 1]|tojson }}", variables) == '["\\u003ca\\u003e", 1]'
    source = f"{{{{ organization|tojson({MAX_INDENT}) }}}}"
    assert (
        render_part("body", source, variables)
        == "{\n" + " " * MAX_INDENT + '"name": "Postroom Inc"\n}'
    )


@pytest.mark.parametrize("indent", [MAX_INDENT + 1, 10**9, "' ' * 9", "[1]"])
def test_tojson_refuses_a_wide_indent(indent: object) -> None:
    with pytest.raises(TemplateRejected) as caught:
        render_part("body", f"{{{{ contact|tojson({indent}) }}}}", CONTEXT.variables())
    assert "Template refused: tojson" in caught.value.reason


def test_output_up_to_the_limit_is_allowed() -> None:
    text = render_part("body", "{{ lead.description * 10 }}", CONTEXT.variables())
    assert len(text) == 1_000_000 <= MAX_VALUE


@pytest.mark.parametrize("part", ["subject", "body"])
@pytest.mark.parametrize("source", ["{{ contact.name ", "{% if x %}", "{% for %}", "{{ x|nope }}"])
def test_a_template_that_does_not_compile_is_refused_naming_its_part(
    part: str, source: str
) -> None:
    with pytest.raises(TemplateRejected) as caught:
        check_template(part, source)
    assert caught.value.part == part
    assert "syntax error" in caught.value.reason


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ contact['__class__'] }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{% endfor %}",
        "{% include 'other' %}",
    ],
)
def test_a_template_that_plainly_leaves_the_sandbox_is_refused_when_saved(source: str) -> None:
    with pytest.raises(TemplateRejected) as caught:
        check_template("body", source)
    assert caught.value.field_errors == {"body": caught.value.reason}


@pytest.mark.parametrize("part", ["subject", "body"])
@pytest.mark.parametrize("source", NESTED_TOO_DEEP)
def test_a_template_nested_too_deeply_is_refused_naming_its_part(part: str, source: str) -> None:
    with pytest.raises(TemplateRejected) as saving:
        check_template(part, source)
    with pytest.raises(TemplateRejected) as rendering:
        render_part(part, source, CONTEXT.variables())
    assert saving.value.field_errors == rendering.value.field_errors == {part: TOO_DEEP}


def test_checking_a_huge_constant_expression_computes_nothing() -> None:
    check_template(
        "body", "{{ 9**9**9**9**9 }}{{ 'x' * 10**12 }}{{ 'ab'|replace('', 'c' * 10**9) }}"
    )


@pytest.mark.parametrize("part", ["subject", "body"])
def test_a_template_with_too_many_tags_is_refused_before_compiling(part: str) -> None:
    with pytest.raises(TemplateRejected) as caught:
        check_template(part, "{{ contact.name }}" * (MAX_TAGS + 1))
    assert caught.value.field_errors == {part: f"A template may have at most {MAX_TAGS} tags."}


@pytest.mark.parametrize(
    "source",
    [
        "{{ [" + "1," * 400_000 + "1] }}",
        "{{ lead.get(" + "a," * 400_000 + "a) }}",
        "{% set x = 1 " + "< 1 " * 200_000 + "%}",
    ],
    ids=["list", "arguments", "comparisons"],
)
def test_one_tag_with_too_many_tokens_is_refused_before_compiling(source: str) -> None:
    """Before, each of these took 15 to 25 s of CPU to save, and as long again to render."""
    started = time.monotonic()
    with pytest.raises(TemplateRejected) as caught:
        check_template("body", source)
    assert f"at most {MAX_TOKENS} tokens" in caught.value.field_errors["body"]
    with pytest.raises(TemplateRejected):
        render_part("body", source, CONTEXT.variables())
    assert time.monotonic() - started < 1


def test_a_long_template_with_few_tokens_is_accepted() -> None:
    source = "<p>" + "x" * 500_000 + "</p>{{ contact.first_name|default('there') }}" * 500
    check_template("body", source)


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("{{ ('1e400'|float) > 1 }}", "True"),
        ("{% if ('-1e400'|float) < 0 %}negative{% endif %}", "negative"),
        ("{{ ['1e400'|float, 'nan'|float] }}", "[inf, nan]"),
        ("{{ {'a': ('1e400'|float, )}|tojson }}", '{"a": [Infinity]}'),
    ],
)
def test_a_constant_that_is_no_finite_number_renders(source: str, rendered: str) -> None:
    """Jinja folded these to constants written as the Python name ``inf``: NameError, a 500."""
    check_template("body", source)
    assert render_part("body", source, CONTEXT.variables()) == rendered


def test_converting_an_infinite_constant_to_an_integer_is_a_400() -> None:
    with pytest.raises(TemplateRejected) as caught:
        render_part("subject", "{{ '1e400'|float|int }}", CONTEXT.variables())
    assert "cannot convert float infinity to integer" in caught.value.field_errors["subject"]
