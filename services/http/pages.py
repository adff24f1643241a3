"""Tiny helpers for the public HTML pages (subscription form, opt-in, unsubscribe, messages).

Pages are built from ``Html`` fragments: ``html(template, **values)`` escapes every value that
is not already an ``Html`` fragment, so text coming from users or the database (names, list
names, e-mails) can never inject markup. Templates are constants of the calling module, never
user input. Pages carry no JavaScript (except the captcha of the subscription form, allowed by
its hash); the Content-Security-Policy forbids other scripts.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response

from events.settings import AppSettings

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
ul.archive { list-style: none; padding: 0; }
ul.archive li { display: flex; justify-content: space-between; gap: 1rem; margin: .6rem 0; }
.date { color: #57606a; font-size: .9rem; white-space: nowrap; }
nav.pagination a, nav.pagination strong { margin-right: .6rem; }
.site { color: #57606a; margin: 0 0 .25rem; }
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



@dataclass(frozen=True)
class Site:
    """What the live settings put on every public page: ``app.site_name`` (in the title, as
    listmonk's ``<title>Page - Site</title>``) and ``appearance.public.custom_css`` (linked as
    ``<root_url>/public/custom.css`` when set). Bound per request by ``bind_site``."""

    name: str = ""
    custom_css_url: str = ""

    @classmethod
    def of(cls, settings: AppSettings) -> Site:
        css = (f"{settings.app_root_url}/public/custom.css"
               if settings.appearance_public_custom_css.strip() else "")
        return cls(name=settings.app_site_name, custom_css_url=css)


NO_SITE = Site()
CURRENT_SITE: ContextVar[Site] = ContextVar("postlog_site", default=NO_SITE)


async def bind_site(request: Request[Any, Any, Any]) -> None:
    """App ``before_request`` hook: the site of the settings in force, for the pages this
    request renders (API routes render none)."""
    if request.url.path.startswith("/api/"):
        return
    runtime = getattr(request.app.state, "runtime", None)
    live = getattr(runtime, "live_settings", None)
    if live is not None:
        CURRENT_SITE.set(Site.of(await live.get()))


def content_security_policy(*, scripts: str = "", connect: str = "", frames: str = "") -> str:
    """The public pages' policy: no scripts unless ``scripts`` names some (the captcha), styles
    inline plus the custom CSS's origin."""
    css_url = CURRENT_SITE.get().custom_css_url
    css = urlsplit(css_url) if css_url else None
    styles = "'unsafe-inline' 'self'" + (f" {css.scheme}://{css.netloc}" if css else "")
    policy = [f"default-src 'none'; style-src {styles}; img-src 'self'"]
    if scripts:
        policy.append(f"script-src {scripts}")
    if connect:
        policy.append(f"connect-src {connect}")
    if frames:
        policy.append(f"frame-src {frames}")
    policy.append("form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return "; ".join(policy)


# What an indexable page (the public archive) leaves out.
_PRIVATE_HEADERS = frozenset({"X-Robots-Tag", "Cache-Control"})


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
         extra_headers: dict[str, str] | None = None, indexable: bool = False) -> Response[str]:
    """A whole HTML document with ``title`` and ``body`` (inside ``<main>``). Pages are kept
    out of search engines and caches unless ``indexable`` (the public archive). The title
    ends with the site's name; the custom CSS is linked when set (``Site``)."""
    site = CURRENT_SITE.get()
    document = html(
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "{robots}<title>{title}</title>\n"
        "<style>{style}</style>\n{custom_css}</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n",
        title=f"{title} - {site.name}" if site.name else title, style=Html(_STYLE), body=body,
        robots=Html("" if indexable else '<meta name="robots" content="noindex">\n'),
        custom_css=html('<link rel="stylesheet" href="{url}">\n', url=site.custom_css_url)
        if site.custom_css_url else Html(""))
    headers = {name: value for name, value in _HEADERS.items()
               if not indexable or name not in _PRIVATE_HEADERS}
    headers["Content-Security-Policy"] = content_security_policy()
    return Response(content=str(document), status_code=status_code,
                    media_type="text/html",  # litestar adds "; charset=utf-8"
                    headers={**headers, **(extra_headers or {})})


def message_page(title: str, message: str, *, status_code: int = 200) -> Response[str]:
    """A page that only tells the visitor something: a heading and one paragraph."""
    body = html('<h1>{title}</h1>\n<p role="status">{message}</p>', title=title, message=message)
    return page(title, body, status_code=status_code)


def error_page(message: str, *, status_code: int) -> Response[str]:
    """An error told as a page (public pages answer browsers, not API clients)."""
    title = "Not found" if status_code == 404 else "Something went wrong"
    body = html('<h1>{title}</h1>\n<p role="alert">{message}</p>', title=title, message=message)
    return page(title, body, status_code=status_code)
