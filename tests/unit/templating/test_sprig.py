"""Sprig functions as listmonk newsletters use them, with Sprig's argument order and Go types."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from gotemplate import TemplateError, compile_template, sprig_funcs

NOW = datetime(2024, 3, 5, 14, 7, 9, tzinfo=UTC)
FUNCS = sprig_funcs(clock=lambda: NOW)
DATA = {"Name": "john doe", "Attribs": {"city": "Bengaluru", "projects": 5.0, "tags": ["a", "b"]}}

CASES = [
    ('{{ upper "abc" }} {{ lower "ABC" }} {{ title "hello wide world" }}',
     "ABC abc Hello Wide World"),
    ('[{{ trim "  x  " }}] {{ trimAll "$" "$5.00$" }} {{ trimPrefix "a" "abc" }}', "[x] 5.00 bc"),
    ('{{ trimSuffix "c" "abc" }} {{ replace "a" "b" "aaa" }} {{ "abc" | contains "b" }}',
     "ab bbb true"),
    ('{{ hasPrefix "a" "abc" }} {{ hasSuffix "x" "abc" }} {{ repeat 3 "ab" }}',
     "true false ababab"),
    ('{{ substr 1 3 "abcdef" }} {{ trunc 3 "abcdef" }} {{ trunc -2 "abcdef" }}', "bc abc ef"),
    ('{{ abbrev 5 "hello world" }} {{ nospace "a b  c" }} {{ initials "John Ronald Tolkien" }}',
     "he... abc JRT"),
    ('{{ quote "a" 1 }} {{ squote "a" }} {{ cat "a" 1 nil "b" }}', "\"a\" \"1\" 'a' a 1 b"),
    ('{{ indent 2 "a\\nb" }}|{{ nindent 2 "a" }}', "  a\n  b|\n  a"),
    ('{{ wrap 5 "hello world foo" }}', "hello\nworld\nfoo"),
    ('{{ splitList "," "a,b,c" }} {{ join "-" (list 1 "b" 3) }} {{ list "c" "a" "b" | sortAlpha }}',
     "[a b c] 1-b-3 [a b c]"),
    ('{{ .Name | title }} {{ .Attribs.tags | join ", " }}', "John Doe a, b"),
    ('{{ default "x" "" }} {{ "" | default "x" }} {{ "y" | default "x" }}', "x x y"),
    ('{{ .Attribs.nick | default "friend" }} {{ default "n/a" .Attribs.city }}',
     "friend Bengaluru"),
    ("{{ empty 0 }} {{ empty (list) }} {{ empty .Attribs }} {{ coalesce \"\" 0 \"z\" }}",
     "true true false z"),
    ('{{ ternary "a" "b" true }} {{ false | ternary "a" "b" }}', "a b"),
    ('{{ toJson (dict "a" 1 "b" "<x>") }}', '{"a":1,"b":"\\u003cx\\u003e"}'),
    ("{{ toJson .Attribs.projects }} {{ toJson 0.0000001 }} {{ toJson 1e21 }}", "5 1e-7 1e+21"),
    ('{{ (fromJson "{\\"a\\": 1}").a }} {{ toPrettyJson (list 1 2) }}', "1 [\n  1,\n  2\n]"),
    ("{{ add 1 2 3 }} {{ add1 5 }} {{ sub 5 3 }} {{ mul 2 3 4 }}", "6 6 2 24"),
    ("{{ div 7 2 }} {{ div -7 2 }} {{ mod 7 3 }} {{ mod -7 3 }}", "3 -3 1 -1"),
    ("{{ max 1 5 3 }} {{ min 4 2 8 }} {{ floor 1.7 }} {{ ceil 1.2 }} {{ round 3.14159 2 }}",
     "5 2 1 2 3.14"),
    ('{{ add "3" 4.9 }} {{ add .Attribs.projects 1 }} {{ addf 1.1 2.2 }} {{ mulf 1.5 2 }}',
     "7 6 3.3 3"),
    ("{{ list 1 2 3 | first }} {{ list 1 2 3 | last }} {{ rest (list 1 2 3) }} "
     "{{ initial (list 1 2 3) }}", "1 3 [2 3] [1 2]"),
    ("{{ append (list 1) 2 }} {{ prepend (list 1) 0 }} {{ concat (list 1) (list 2 3) }}",
     "[1 2] [0 1] [1 2 3]"),
    ("{{ reverse (list 1 2 3) }} {{ list 1 1 2 | uniq }} {{ has 2 (list 1 2) }}",
     "[3 2 1] [1 2] true"),
    ('{{ without (list 1 2 3) 2 }} {{ compact (list 1 "" 0 "a") }} {{ until 3 }}',
     "[1 3] [1 a] [0 1 2]"),
    ('{{ $d := dict "a" 1 }}{{ get $d "a" }}[{{ get $d "z" }}]{{ $_ := set $d "b" 2 }}{{ $d }}',
     "1[]map[a:1 b:2]"),
    ('{{ $d := dict "a" 1 "b" 2 }}{{ unset $d "a" }} {{ hasKey $d "b" }} {{ keys (dict "k" 1) }}',
     "map[b:2] true [k]"),
    ('{{ values (dict "a" 1) }} {{ pluck "a" (dict "a" 1) (dict "a" 2) }}', "[1] [1 2]"),
    ('{{ merge (dict "a" 1) (dict "a" 2 "b" 3) }} {{ mergeOverwrite (dict "a" 1) (dict "a" 2) }}',
     "map[a:1 b:3] map[a:2]"),
    ('{{ atoi "42" }} {{ atoi "x" }} {{ int "42" }} {{ int 3.9 }} {{ float64 "1.5" }}',
     "42 0 42 3 1.5"),
    ("{{ toString 5 }} {{ toStrings (list 1 2) }} {{ add 1 2 | printf \"%T\" }}",
     "5 [1 2] int64"),
    ('{{ now | date "2006-01-02 15:04" }} {{ dateInZone "15:04 MST" (now) "Asia/Kolkata" }}',
     "2024-03-05 14:07 19:37 IST"),
    ("{{ now | unixEpoch }} {{ ago (now) }} {{ date \"2006\" 0 }}", "1709647629 0s 1970"),
    ('{{ duration "95" }} {{ duration 95 }} {{ duration (add 3600 1) }}', "1m35s 0s 1h0m1s"),
    ('{{ now | dateModify "-24h" | date "2006-01-02" }}', "2024-03-04"),
    ('{{ toDate "2006-01-02" "2024-01-15" | date "Jan 2, 2006" }}', "Jan 15, 2024"),
    ('{{ b64enc "hello" }} {{ b64dec "aGVsbG8=" }} {{ sha256sum "a" | trunc 8 }}',
     "aGVsbG8= hello ca978112"),
    ('{{ kindOf .Attribs }} {{ typeOf .Attribs.projects }} {{ kindIs "slice" (list) }}',
     "map float64 true"),
    ('{{ base "/a/b.txt" }} {{ ext "x.tar.gz" }} {{ dir "/a/b" }}', "b.txt .gz /a"),
    ("{{ seq 3 }} {{ untilStep 0 10 4 }}", "1 2 3 [0 4 8]"),
]


@pytest.mark.parametrize(("source", "expected"), CASES)
def test_sprig_function_renders_like_sprig(source: str, expected: str) -> None:
    assert compile_template(source, funcs=FUNCS, mode="text").render(DATA) == expected


ERRORS = [
    ('{{ first "abc" }}', "error calling first: Cannot find first on type string"),
    ("{{ div 1 0 }}", "error calling div: runtime error: integer divide by zero"),
    ('{{ upper 5 }}', "expected string; found 5"),
    ("{{ upper .Attribs.projects }}", "wrong type for value; expected string; got float64"),
    ("{{ repeat -1 \"x\" }}", "strings: negative Repeat count"),
    ('{{ fail "stop here" }}', "error calling fail: stop here"),
    ("{{ eq .Attribs.projects 5 }}", "incompatible types for comparison: float64 and int"),
]


@pytest.mark.parametrize(("source", "message"), ERRORS)
def test_sprig_errors_match_go(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        compile_template(source, funcs=FUNCS, mode="text").render(DATA)


def test_random_helpers_produce_well_formed_values() -> None:
    out = compile_template("{{ uuidv4 }} {{ randAlphaNum 12 }}", funcs=FUNCS).render(None)
    uid, rand = out.split(" ")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uid)
    assert re.fullmatch(r"[A-Za-z0-9]{12}", rand)


@pytest.mark.parametrize("name", ["env", "expandenv", "getHostByName", "readFile", "exec"])
def test_environment_and_system_functions_are_absent(name: str) -> None:
    with pytest.raises(TemplateError, match=f'function "{name}" not defined'):
        compile_template(f'{{{{ {name} "HOME" }}}}', funcs=FUNCS)
