"""html/template contextual escaping: output is escaped for where it lands in the HTML."""

from __future__ import annotations

import pytest

from gotemplate import HTML, URL, TemplateError, compile_template

HOSTILE = "<script>alert(\"x\")</script>&'+"

CASES = [
    # (template, data, expected)
    ("<p>{{ .S }}</p>", {"S": HOSTILE},
     "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;&#43;</p>"),
    ('<a title="{{ .S }}">', {"S": "a\"b'c"}, '<a title="a&#34;b&#39;c">'),
    ("<a title='{{ .S }}'>", {"S": "a\"b'c"}, "<a title='a&#34;b&#39;c'>"),
    ("<a title={{ .S }}>", {"S": "a b=c"}, "<a title=a&#32;b&#61;c>"),
    ('<a href="{{ .U }}">', {"U": "javascript:alert(1)"}, '<a href="#ZgotmplZ">'),
    ('<a href="{{ .U }}">', {"U": "JavaScript:alert(1)"}, '<a href="#ZgotmplZ">'),
    ('<img src="{{ .U }}">', {"U": "data:image/png;base64,xx"}, '<img src="#ZgotmplZ">'),
    ('<a href="{{ .U }}">', {"U": "https://x.com/a b?q=1&r=2"},
     '<a href="https://x.com/a%20b?q=1&amp;r=2">'),
    ('<a href="/search?q={{ .Q }}">', {"Q": "a&b c/d"}, '<a href="/search?q=a%26b%20c%2fd">'),
    ('<a href="mailto:{{ .E }}">', {"E": "a@b.com"}, '<a href="mailto:a@b.com">'),
    ('<a href="{{ .U }}">', {"U": URL("javascript:void(0)")}, '<a href="javascript:void%280%29">'),
    ('<a href="{{ .U }}">', {"U": "/it's"}, '<a href="/it%27s">'),
    ("<script>var x = {{ .S }};</script>", {"S": "</script>"},
     '<script>var x = "\\u003c/script\\u003e";</script>'),
    ("<script>var n = {{ .N }};</script>", {"N": 5}, "<script>var n =  5 ;</script>"),
    ("<script>var o = {{ .O }};</script>", {"O": {"b": [1, 2.5], "a": None}},
     '<script>var o = {"a":null,"b":[1,2.5]};</script>'),
    ('<script>var s = "{{ .S }}";</script>', {"S": "a\"b'c</"},
     '<script>var s = "a\\u0022b\\u0027c\\u003c\\/";</script>'),
    ("<style>p { color: {{ .C }}; }</style>", {"C": "red"}, "<style>p { color: red; }</style>"),
    ("<style>p { color: {{ .C }}; }</style>", {"C": "expression(alert(1))"},
     "<style>p { color: ZgotmplZ; }</style>"),
    ('<p style="color: {{ .C }}">', {"C": "#fff"}, '<p style="color: #fff">'),
    ('<p style="background: url({{ .U }})">', {"U": "javascript:x"},
     '<p style="background: url(#ZgotmplZ)">'),
    ("<!-- secret {{ .S }} -->x", {"S": "y"}, "x"),
    ("{{ .H }}", {"H": HTML("<b>bold</b>")}, "<b>bold</b>"),
    ('<a title="{{ .H }}">', {"H": HTML("<b>bold</b> &amp; co")}, '<a title="bold &amp; co">'),
    ("[{{ .Missing }}][{{ .Nil }}]", {"Nil": None}, "[][]"),
    ("{{ print nil }}", {}, "&lt;nil&gt;"),
    ("<textarea>{{ .S }}</textarea>", {"S": "</textarea>"},
     "<textarea>&lt;/textarea&gt;</textarea>"),
    ("<title>{{ .S }}</title>", {"S": "<i>"}, "<title>&lt;i&gt;</title>"),
    ("<p>a < b</p>", {}, "<p>a &lt; b</p>"),
    ("<!DOCTYPE html><p>x</p>", {}, "<!DOCTYPE html><p>x</p>"),
    ("{{ .S | html }}", {"S": "a+b<"}, "a+b&lt;"),
    ('<a onclick="f({{ .S }})">', {"S": "x"}, '<a onclick="f(&#34;x&#34;)">'),
    ("<input {{ .A }}>", {"A": "checked"}, "<input checked>"),
    ("<input {{ .A }}>", {"A": "onclick"}, "<input ZgotmplZ>"),
    ('<img srcset="{{ .S }}">', {"S": "a.png 1x, javascript:x 2x"},
     '<img srcset="a.png 1x,#ZgotmplZ">'),
    ("<!--[if mso]><table><![endif]-->{{ Safe .C }}", {"C": "<!--[if mso]>x<![endif]-->"},
     "<!--[if mso]>x<![endif]-->"),
    ('{{ define "v" }}{{ . }}{{ end }}<a title="{{ template "v" .S }}">{{ template "v" .S }}',
     {"S": '"'}, '<a title="&#34;">&#34;'),
    ("{{ \"a+b\" }}", {}, "a&#43;b"),
    ("<p>{{ .L }}</p>", {"L": ["<a>", "b"]}, "<p>[&lt;a&gt; b]</p>"),
    ("{{ if .T }}<b>{{ .S }}</b>{{ else }}<i>{{ .S }}</i>{{ end }}", {"T": True, "S": "&"},
     "<b>&amp;</b>"),
    ("{{ range .L }}<li>{{ . }}</li>{{ end }}", {"L": ["<", ">"]}, "<li>&lt;</li><li>&gt;</li>"),
]


@pytest.mark.parametrize(("source", "data", "expected"), CASES)
def test_output_is_escaped_for_its_html_context(source: str, data: object, expected: str) -> None:
    funcs = {"Safe": lambda s: HTML(s)}
    assert compile_template(source, funcs=funcs).render(data) == expected


UNSAFE = [
    ('{{ if .T }}<a href="{{ else }}<b>{{ end }}">', "branches end in different contexts"),
    ('<a href="{{ .U }}', "ends in a non-text context"),
    ("<script>var x = `{{ .S }}`;</script>", "appears in a JS template literal"),
    ("<a title={{ .S }}\"x\">", "in unquoted attr"),
    ('<a "x"="y">', "in attribute name"),
    ('{{ template "missing" }}', 'no such template "missing"'),
    ("<p>{{ .S | html | upper }}</p>", 'predefined escaper "html" disallowed in template'),
]


@pytest.mark.parametrize(("source", "problem"), UNSAFE)
def test_templates_that_cannot_be_escaped_are_rejected(source: str, problem: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(source, name="body", funcs={"upper": str.upper})
    assert str(caught.value).startswith("html/template:body")
    assert problem in str(caught.value)


def test_escaping_errors_can_be_deferred_to_render_like_go() -> None:
    template = compile_template('<a href="{{ .U }}', defer_escape_errors=True)
    with pytest.raises(TemplateError, match="ends in a non-text context"):
        template.render({"U": "x"})


def test_text_mode_does_not_escape() -> None:
    template = compile_template("Hi {{ .S }} <!-- kept -->", mode="text")
    assert template.render({"S": "<b>&'"}) == "Hi <b>&' <!-- kept -->"


def test_html_comments_in_template_text_are_removed_like_html_template() -> None:
    source = "<p>a</p><!-- note -->\n<!--[if mso]><v:rect><![endif]--><p>b</p>"
    assert compile_template(source).render(None) == "<p>a</p>\n<p>b</p>"


def test_template_called_from_two_contexts_is_escaped_for_each() -> None:
    source = ('{{ define "x" }}{{ . }}{{ end }}<a href="/p?q={{ template "x" .V }}">'
              '{{ template "x" .V }}</a>')
    assert compile_template(source).render({"V": "a b&c"}) == \
        '<a href="/p?q=a%20b%26c">a b&amp;c</a>'
