"""Go text/template semantics: each template renders exactly what Go's text/template prints.

Expected outputs follow Go's documented behaviour (text/template, fmt): missing keys print
<no value>, floats print in %g form, ranges over maps go in key order, and so on.
"""

from __future__ import annotations

import pytest

from gotemplate import TemplateError, compile_template

DATA = {
    "Name": "Ann", "Empty": "", "Zero": 0, "One": 1, "F": 1.5, "Big": 1e6, "T": True,
    "Nil": None, "List": ["a", "b", "c"], "Ints": [3, 1, 2], "EmptyList": [],
    "Map": {"b": 2, "a": 1}, "EmptyMap": {}, "Nested": {"Inner": {"Deep": "yes"}},
}

TEXT_CASES = [
    ("plain text", "plain text"),
    ("{{.Name}}", "Ann"),
    ("{{ .Missing }}", "<no value>"),
    ("{{ .Nil }}", "<no value>"),
    ("{{ .Nested.Inner.Deep }}", "yes"),
    ("{{ .Nested.Missing.Deep }}", "<no value>"),
    ("{{/* a comment */}}x", "x"),
    ("a  {{- .Name -}}  b", "aAnnb"),
    ("a {{- /* trimmed comment */ -}} b", "ab"),
    ("a\n  {{- if true }}\n  b\n  {{- end }}\n", "a\n  b\n"),
    ('{{ "tab\\t" }}|{{ `raw\\t` }}', "tab\t|raw\\t"),
    ("{{ 'a' }}", "97"),
    ("{{ 1.5 }} {{ 1e3 }} {{ 0x10 }} {{ -7 }} {{ 1.0 }}", "1.5 1000 16 -7 1"),
    ("{{ true }} {{ false }}", "true false"),
    ("{{ print nil }}", "<nil>"),
    ("x{{ \"\" }}y", "xy"),
    ("{{ if .T }}yes{{ else }}no{{ end }}", "yes"),
    ("{{ if .Empty }}a{{ else if .Zero }}b{{ else if .EmptyList }}c{{ else }}d{{ end }}", "d"),
    ("{{ if .Map }}m{{ end }}{{ if .EmptyMap }}e{{ end }}{{ if .Nil }}n{{ end }}", "m"),
    ("{{ if .Missing }}x{{ else }}missing is false{{ end }}", "missing is false"),
    ("{{ with .Name }}{{ . }}{{ end }}", "Ann"),
    ("{{ with .Missing }}x{{ else }}none{{ end }}", "none"),
    ("{{ with .Empty }}x{{ else with .Name }}{{ . }}{{ end }}", "Ann"),
    ("{{ with $x := .Name }}{{ $x }}{{ end }}", "Ann"),
    ("{{ range .List }}{{ . }}{{ end }}", "abc"),
    ("{{ range $i, $v := .List }}{{ $i }}:{{ $v }} {{ end }}", "0:a 1:b 2:c "),
    ("{{ range $v := .List }}{{ $v }}{{ end }}", "abc"),
    ("{{ range .EmptyList }}x{{ else }}empty{{ end }}", "empty"),
    ("{{ range .Missing }}x{{ else }}nothing{{ end }}", "nothing"),
    ("{{ range $k, $v := .Map }}{{ $k }}={{ $v }};{{ end }}", "a=1;b=2;"),
    ("{{ range 3 }}{{ . }}{{ end }}", "012"),
    ("{{ range .List }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}", "a"),
    ("{{ range .List }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ . }}{{ end }}", "ac"),
    ("{{ $x := 1 }}{{ range .List }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
    ("{{ range .List }}{{ $.Name }}{{ end }}", "AnnAnnAnn"),
    ("{{ $x := .Name }}{{ $x }}", "Ann"),
    ("{{ len .List }} {{ len .Name }} {{ len \"é\" }} {{ len .Map }}", "3 3 2 2"),
    ("{{ index .List 1 }} {{ index .Map \"b\" }} {{ index .Map \"zz\" }}", "b 2 <no value>"),
    ("{{ index \"abc\" 0 }}", "97"),
    ("{{ slice \"abcdef\" 1 3 }} {{ slice .List 1 }}", "bc [b c]"),
    ("{{ and 1 0 2 }} {{ or 0 \"\" \"x\" }} {{ and 1 2 }} [{{ or 0 \"\" }}]", "0 x 2 []"),
    ("{{ and .Missing (index .Missing \"x\") }}", "<no value>"),
    ("{{ or .Missing \"fallback\" }}", "fallback"),
    ("{{ if and .T (eq .Name \"Ann\") }}ok{{ end }}", "ok"),
    ("{{ not .T }} {{ not .Empty }}", "false true"),
    ("{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }}",
     "true true true true true"),
    ("{{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }} {{ eq .Missing \"x\" }} {{ eq .Nil nil }}",
     "true false false true"),
    ("{{ print \"a\" 1 2 \"b\" }}", "a1 2b"),
    ("{{ println \"a\" 1 }}", "a 1\n"),
    ("{{ printf \"%s=%d\" \"n\" 5 }}", "n=5"),
    ("{{ printf \"%v|%v|%v\" .List .Map nil }}", "[a b c]|map[a:1 b:2]|<nil>"),
    ("{{ printf \"%q %v %T %T\" \"hi\" .T .F .List }}", "\"hi\" true float64 []interface {}"),
    ("{{ printf \"%.2f|%5d|%-5s|%x|%t|%%\" 3.14159 42 \"ab\" 255 true }}",
     "3.14|   42|ab   |ff|true|%"),
    ("{{ printf \"%5.1f|%e|%g|%08.3f|%+d\" 3.14159 1234.5678 0.000012 -3.14159 5 }}",
     "  3.1|1.234568e+03|1.2e-05|-003.142|+5"),
    ("{{ printf \"%d\" \"x\" }} {{ printf \"%s\" }} {{ printf \"%d\" 1 2 }}",
     "%!d(string=x) %!s(MISSING) 1%!(EXTRA int=2)"),
    ("{{ .F }} {{ .Big }} {{ .List }} {{ .Map }} {{ .Ints }}",
     "1.5 1e+06 [a b c] map[a:1 b:2] [3 1 2]"),
    ("{{ 123456.0 }} {{ 1234567.0 }} {{ 0.0001 }} {{ 0.00001 }}",
     "123456 1.234567e+06 0.0001 1e-05"),
    ("{{ html \"<a href='x'>&\" }}", "&lt;a href=&#39;x&#39;&gt;&amp;"),
    ("{{ js \"it's <b>\" }}", "it\\'s \\u003Cb\\u003E"),
    ("{{ urlquery \"a b&c/d\" }}", "a+b%26c%2Fd"),
    ("{{ \"abc\" | printf \"%s-%s\" \"x\" }}", "x-abc"),
    ("{{ .Name | printf \"%q\" }}", "\"Ann\""),
    ("{{ (print \"a\" \"b\") }} {{ (index .Nested \"Inner\").Deep }}", "ab yes"),
    ("{{ define \"T\" }}[{{ . }}]{{ end }}{{ template \"T\" .Name }}", "[Ann]"),
    ("{{ define \"T\" }}[{{ . }}]{{ end }}{{ template \"T\" }}", "[<no value>]"),
    ("{{ block \"B\" .Name }}<{{ . }}>{{ end }}", "<Ann>"),
    ("{{ define \"T\" }}{{ $ }}{{ end }}{{ $x := 1 }}{{ template \"T\" \"arg\" }}", "arg"),
    ("{{ 3 | printf \"%d\" }}", "3"),
]


@pytest.mark.parametrize(("source", "expected"), TEXT_CASES)
def test_text_template_renders_like_go(source: str, expected: str) -> None:
    assert compile_template(source, name="t", mode="text").render(DATA) == expected


EXEC_ERRORS = [
    ("{{ .Name.Foo }}",
     'template: t:1:8: executing "t" at <.Name.Foo>: can\'t evaluate field Foo in type string'),
    ("{{ index .List 5 }}", "error calling index: index out of range: 5"),
    ("{{ eq 1 \"a\" }}", "error calling eq: incompatible types for comparison: int and string"),
    ("{{ lt true false }}", "error calling lt: invalid type for comparison"),
    ("{{ range .Name }}{{ end }}", "range can't iterate over Ann"),
    ("{{ .Nil.Foo }}", "nil pointer evaluating interface {}.Foo"),
    ("{{ template \"nope\" }}", 'template "nope" not defined'),
    ("{{ len 3 }}", "error calling len: len of type int"),
    ("{{ .Name 1 }}", "Name is not a method but has arguments"),
    ("{{ printf 1 }}", "expected string; found 1"),
    ("{{ range $i, $v := 3 }}{{ end }}", "can't use 3 to iterate over more than one variable"),
    ("{{ nil }}", "nil is not a command"),
    ("{{ \"x\" 1 }}", "can't give argument to non-function \"x\""),
]


@pytest.mark.parametrize(("source", "message"), EXEC_ERRORS)
def test_execution_errors_are_worded_like_go(source: str, message: str) -> None:
    template = compile_template(source, name="t", mode="text")
    with pytest.raises(TemplateError) as caught:
        template.render(DATA)
    assert message in str(caught.value)
    assert str(caught.value).startswith("template: t:")


PARSE_ERRORS = [
    ("{{ .Name }", "template: t:1: unexpected \"}\" in operand"),
    ("{{ nofunc }}", 'template: t:1: function "nofunc" not defined'),
    ("{{ $x }}", 'template: t:1: undefined variable "$x"'),
    ("{{ end }}", "template: t:1: unexpected {{end}}"),
    ("line one\nline two {{ if }}{{ end }}", "template: t:2: missing value for if"),
    ("{{ if .A }}", "template: t:1: unexpected EOF"),
    ("{{ .A", "template: t:1: unclosed action"),
    ("{{/* open comment", "template: t:1: unclosed comment"),
    ("{{ .A | 3 }}", "template: t:1: non executable command in pipeline stage 2"),
    ("{{ break }}", "template: t:1: {{break}} outside {{range}}"),
    ("{{ # }}", "template: t:1: unexpected \"#\" in command"),
    ("{{ \"bad\\q\" }}", "template: t:1: invalid syntax"),
    ("{{ $x := 1 }}{{ define \"D\" }}{{ $x }}{{ end }}", 'template: t:1: undefined variable "$x"'),
    ("{{ define \"D\" }}a{{ end }}{{ define \"D\" }}b{{ end }}",
     'template: t:1: template: multiple definition of template "D"'),
    ("{{ .A.B. }}", "template: t:1: unexpected <.> in operand"),
    ("{{ .A#B }}", "template: t:1: bad character U+0023 '#'"),
]


@pytest.mark.parametrize(("source", "message"), PARSE_ERRORS)
def test_parse_errors_name_template_line_and_problem(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(source, name="t", mode="text")
    assert str(caught.value).startswith(message)


def test_template_variables_do_not_leak_into_called_templates() -> None:
    source = '{{ define "D" }}{{ $ }}|{{ . }}{{ end }}{{ $y := "outer" }}{{ template "D" 5 }}'
    assert compile_template(source, mode="text").render({"a": 1}) == "5|5"


def test_range_over_map_visits_keys_in_sorted_order() -> None:
    data = {"M": {"zeta": 1, "alpha": 2, "Mid": 3}}
    out = compile_template("{{ range $k, $v := .M }}{{ $k }} {{ end }}", mode="text").render(data)
    assert out == "Mid alpha zeta "


def test_functions_override_builtins_like_a_go_funcmap() -> None:
    template = compile_template("{{ len .X }}", mode="text", funcs={"len": lambda x: "mine"})
    assert template.render({"X": [1]}) == "mine"


def test_custom_functions_get_pipeline_value_as_last_argument() -> None:
    funcs = {"wrap": lambda left, right, s: f"{left}{s}{right}"}
    template = compile_template('{{ .Name | wrap "[" "]" }}', mode="text", funcs=funcs)
    assert template.render(DATA) == "[Ann]"


def test_function_errors_surface_as_error_calling() -> None:
    def boom(x: object) -> str:
        raise ValueError("bad input")

    template = compile_template("{{ boom 1 }}", name="t", mode="text", funcs={"boom": boom})
    with pytest.raises(TemplateError, match="error calling boom: bad input"):
        template.render(None)


def test_call_invokes_function_values_from_data() -> None:
    template = compile_template("{{ call .Double 21 }}", mode="text")
    assert template.render({"Double": lambda x: x * 2}) == "42"


def test_json_numbers_behave_like_go_float64() -> None:
    from gotemplate import go_json_value

    attribs = go_json_value({"n": 1000000, "small": 5, "ok": True, "list": [1, 2]})
    template = compile_template("{{ .n }} {{ .small }} {{ .ok }} {{ .list }}", mode="text")
    assert template.render(attribs) == "1e+06 5 true [1 2]"
