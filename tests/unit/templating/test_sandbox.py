"""The sandbox: templates reach only their data and functions, within bounded work."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from gotemplate import LimitExceeded, Limits, TemplateError, compile_template, sprig_funcs


@dataclass
class Account:
    Name: str
    secret: str = "hidden"
    _token: str = "t0k"

    def delete(self) -> str:  # not exposed: lower-case, not listed
        raise AssertionError("a template must never call this")


DATA = {"Subscriber": Account("Ann"), "Attribs": {"city": "Pune"}}

REFUSED = [
    "{{ .Subscriber.__class__ }}",
    "{{ .Subscriber.__dict__ }}",
    "{{ .Subscriber.secret }}",
    "{{ .Subscriber._token }}",
    "{{ .Subscriber.delete }}",
    "{{ .Subscriber.Name.__class__ }}",
    '{{ index .Subscriber "Name" }}',
    "{{ call .Subscriber.delete }}",
]


@pytest.mark.parametrize("source", REFUSED)
def test_python_internals_and_unexposed_members_are_refused(source: str) -> None:
    template = compile_template(source)
    with pytest.raises(TemplateError) as caught:
        template.render(DATA)
    assert "executing" in str(caught.value)


@pytest.mark.parametrize("source", ["{{ .__class__ }}", "{{ .Attribs.__globals__ }}",
                                    '{{ index . "__globals__" }}', "{{ .__init__ }}"])
def test_dunder_names_on_maps_are_only_missing_keys(source: str) -> None:
    assert compile_template(source, mode="text").render(DATA) == "<no value>"
    assert compile_template(source).render(DATA) == ""


def test_only_exported_fields_of_structs_are_readable() -> None:
    assert compile_template("{{ .Subscriber.Name }}").render(DATA) == "Ann"


@pytest.mark.parametrize("source", ["{{ os }}", '{{ env "HOME" }}', '{{ readFile "/etc" }}',
                                    "{{ __import__ }}", "{{ eval }}"])
def test_unknown_functions_are_parse_errors(source: str) -> None:
    with pytest.raises(TemplateError, match="not defined"):
        compile_template(source, funcs=sprig_funcs())


def test_huge_loops_hit_the_step_limit() -> None:
    template = compile_template("{{ range 100000000 }}x{{ end }}", limits=Limits(max_steps=10_000))
    with pytest.raises(LimitExceeded, match="step limit"):
        template.render(None)


def test_recursive_templates_hit_the_depth_limit() -> None:
    source = '{{ define "r" }}x{{ template "r" . }}{{ end }}{{ template "r" . }}'
    with pytest.raises(LimitExceeded, match="exceeded maximum template depth"):
        compile_template(source).render(None)


def test_output_is_bounded() -> None:
    template = compile_template('{{ range 1000 }}{{ "0123456789" }}{{ end }}',
                                limits=Limits(max_output=100))
    with pytest.raises(LimitExceeded, match="output size limit"):
        template.render(None)


@pytest.mark.parametrize("source", [
    '{{ repeat 100000000 "xx" }}',
    '{{ printf "%2000000000d" 1 }}',
    '{{ $s := "xxxxxxxx" }}{{ range 40 }}{{ $s = print $s $s }}{{ end }}',
    "{{ until 100000000 }}",
])
def test_memory_hungry_calls_are_refused(source: str) -> None:
    with pytest.raises(TemplateError):
        compile_template(source, funcs=sprig_funcs()).render(None)


def test_deeply_nested_expressions_are_rejected_at_parse_time() -> None:
    with pytest.raises(TemplateError, match="nested too deeply"):
        compile_template("{{ " + "(" * 500 + "1" + ")" * 500 + " }}")


def test_deeply_nested_control_structures_are_rejected_at_parse_time() -> None:
    with pytest.raises(TemplateError, match="nested too deeply"):
        compile_template("{{ if 1 }}" * 300 + "{{ end }}" * 300)


def test_self_referencing_data_cannot_hang_printing() -> None:
    loop: dict[str, object] = {}
    loop["self"] = loop
    with pytest.raises(TemplateError):
        compile_template("{{ . }}").render(loop)


def test_compiled_template_renders_concurrently_without_interference() -> None:
    template = compile_template("<p>{{ .N }}</p>{{ range .L }}{{ . }}{{ end }}")
    barrier = threading.Barrier(8)

    def run(n: int) -> str:
        barrier.wait()
        return template.render({"N": n, "L": list(range(n))})

    with ThreadPoolExecutor(max_workers=8) as pool:
        outputs = list(pool.map(run, range(8)))
    assert outputs == [f"<p>{n}</p>" + "".join(map(str, range(n))) for n in range(8)]


def test_renders_do_not_share_variables_or_counters() -> None:
    template = compile_template("{{ $x := .V }}{{ $x }}", limits=Limits(max_steps=50))
    assert [template.render({"V": i}) for i in range(100)] == [str(i) for i in range(100)]
