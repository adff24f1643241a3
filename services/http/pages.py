"""Tiny helpers for the public HTML pages (subscription form, opt-in, unsubscribe, messages).

Pages are built from ``Html`` fragments: ``html(template, **values)`` escapes every value that
is not already an ``Html`` fragment, so text coming from users or the database (names, list
names, e-mails) can never inject markup. Templates are constants of the calling module, never
user input. Pages carry no JavaScript; the Content-Security-Policy forbids scripts outright.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from litestar import Response

# A small, readable, self-contained style: no external assets, works without JavaScript.
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f4f5f7;
  color: #1f2328; margin: 0; line-height: 1.5; }
main { max-width: 34rem; margin: 3rem auto; background: #fff; padding: 2rem 2.25rem;
  border-radius: 8px; box-shadow: 0 1px 3px rgba(0, 0, 0, .12); }
h1 { font-size: 1.5rem; margin-top: 0; }
h2 { font-size: 1.15rem; margin-top: 2rem; }
label { font-weight: 600; }
input[type=email], input[type=text] { display: block; width: 100%; box-sizing: border-box;
  padding: .55rem .65rem; margin: .3rem 0 1rem; border: 1px solid #8c959f; border-radius: 6px;
  font: inherit; }
fieldset { border: 1px solid #d0d7de; border-radius: 6px; margin: 0 0 1rem; padding: .5rem 1rem; }
legend { font-weight: 600; padding: 0 .3rem; }
ul.choices { list-style: none; padding: 0; margin: 0; }
ul.choices li { margin: .4rem 0; }
ul.choices label, .check label { font-weight: normal; }
.description { color: #57606a; font-size: .9rem; margin: 0 0 0 1.6rem; }
button { font: inherit; font-weight: 600; padding: .55rem 1.2rem; border-radius: 6px;
  border: 1px solid #0969da; background: #0969da; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #0969da; }
button.danger { background: #fff; color: #cf222e; border-color: #cf222e; }
button:focus, input:focus, a:focus { outline: 3px solid #54aeff; outline-offset: 2px; }
.hidden { position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden; }
.help { color: #57606a; font-size: .9rem; }
a { color: #0969da; }
"""

# Headers of every public page: never indexed or cached, no scripts, not framed.
_HEADERS = {
    "X-Robots-Tag": "noindex",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class Html(str):
    """A fragment of HTML that is safe to include as it is (already escaped or constant)."""

    __slots__ = ()


def text(value: object) -> Html:
    """``value`` as HTML text (escaped, quotes included, so it also fits attribute values)."""
    if isinstance(value, Html):
        return value
    return Html(escape(str(value), quote=True))


def html(template: str, **values: object) -> Html:
    """``template`` (a constant) with each ``{name}`` replaced by the escaped value."""
    return Html(template.format(**{name: text(value) for name, value in values.items()}))


def join(fragments: Iterable[Html]) -> Html:
    return Html("".join(text(fragment) for fragment in fragments))


def page(title: str, body: Html, *, status_code: int = 200,
         extra_headers: dict[str, str] | None = None) -> Response[str]:
    """A whole HTML document with ``title`` and ``body`` (inside ``<main>``)."""
    document = html(
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n<title>{title}</title>\n'
        "<style>{style}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n",
        title=title, style=Html(_STYLE), body=body)
    return Response(content=str(document), status_code=status_code,
                    media_type="text/html",  # litestar adds "; charset=utf-8"
                    headers={**_HEADERS, **(extra_headers or {})})


def message_page(title: str, message: str, *, status_code: int = 200) -> Response[str]:
    """A page that only tells the visitor something: a heading and one paragraph."""
    body = html('<h1>{title}</h1>\n<p role="status">{message}</p>', title=title, message=message)
    return page(title, body, status_code=status_code)


def error_page(message: str, *, status_code: int) -> Response[str]:
    """An error told as a page (public pages answer browsers, not API clients)."""
    title = "Not found" if status_code == 404 else "Something went wrong"
    body = html('<h1>{title}</h1>\n<p role="alert">{message}</p>', title=title, message=message)
    return page(title, body, status_code=status_code)
