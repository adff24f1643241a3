"""listmonk's own template functions and its pre-parse shorthand rewrites.

listmonk rewrites raw template text before parsing (``https://x.com@TrackLink`` and
``{{ TrackLink "url" }}`` become ``{{ TrackLink "url" . }}``; ``{{ TrackView }}`` and
friends get the message as argument), then provides TrackLink, TrackView, UnsubscribeURL,
ManageURL, OptinURL, MessageURL, ArchiveURL, RootURL, Date, L and Safe next to Sprig.
The URL formats are listmonk's (``<root>/subscription/<campaign>/<subscriber>`` ...).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar

from events.tracking import link_uuid_for
from gotemplate import TemplateError
from gotemplate.evaluate import register_param_type
from gotemplate.gotime import format_time
from gotemplate.nodes import CommandNode, IdentifierNode, Node, StringNode
from gotemplate.parser import parse
from gotemplate.sprig import sprig_funcs
from gotemplate.values import HTML, MISSING, exposed_members, gofunc, is_struct

from .markdown import markdown_to_html

DUMMY_UUID = "00000000-0000-0000-0000-000000000000"
ANSIC = "Mon Jan _2 15:04:05 2006"

_SPACE = r"[\t\n\f\r ]"
SHORTHANDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\{\{" + _SPACE + r'*TrackLink' + _SPACE + r'+"([^"]+)"' + _SPACE + r"*\}\}"),
     r'{{ TrackLink "\1" . }}'),
    (re.compile(r"(https?://[\w\-.~!#$&'()*+,/:;=?@\[\]%]*)@TrackLink"),
     r'{{ TrackLink "\1" . }}'),
    (re.compile(r"\{\{(" + _SPACE + r"+)?(TrackView|UnsubscribeURL|ManageURL|OptinURL|"
                r"MessageURL)(" + _SPACE + r"+)?\}\}"),
     r"{{ \2 . }}"),
]


def rewrite_shorthands(source: str) -> str:
    """Apply listmonk's regTplFuncs rewrites to raw template text, in listmonk's order."""
    for pattern, replacement in SHORTHANDS:
        source = pattern.sub(replacement, source)
    return source


def has_template_expr(s: str) -> bool:
    """listmonk's hasTplExpr: the text has a ``{{`` followed later by ``}}``."""
    _, sep, after = s.partition("{{")
    return bool(sep) and "}}" in after


def first_name(name: str) -> str:
    """listmonk's Subscriber.FirstName: the first space-separated chunk longer than 2 bytes."""
    for chunk in name.split(" "):
        if len(chunk.encode()) > 2:
            return chunk
    return name


def last_name(name: str) -> str:
    """listmonk's Subscriber.LastName: the last chunk longer than 2 bytes."""
    for chunk in reversed(name.split(" ")):
        if len(chunk.encode()) > 2:
            return chunk
    return name


class I18n:
    """The ``L`` object: ``{{ L.T "key" }}``, ``L.Ts "key" "name" "value"``, ``L.Tc "key" n``."""

    __template_fields__: ClassVar[frozenset[str]] = frozenset({"T", "Ts", "Tc"})
    _PARAM = re.compile(r"(?i)\{([a-z0-9-.]+)\}")

    def __init__(self, lang: Mapping[str, str] | None = None) -> None:
        self._lang = dict(lang or {})

    @staticmethod
    def _singular(s: str) -> str:
        return s.split("|")[0].strip() if "|" in s else s

    @gofunc("string")
    def T(self, key: str) -> str:
        value = self._lang.get(key)
        return key if value is None else self._singular(value)

    @gofunc("string", variadic="string")
    def Ts(self, key: str, *params: str) -> str:
        if len(params) % 2:
            return key + ": Invalid arguments"
        value = self._lang.get(key)
        if value is None:
            return key
        text = self._singular(value)
        for name, param in zip(params[::2], params[1::2], strict=True):
            text = text.replace("{" + name + "}", self._sub_params(param))
        return text

    @gofunc("string", "int")
    def Tc(self, key: str, n: int) -> str:
        value = self._lang.get(key)
        if value is None:
            return key
        if n > 1 and "|" in value:
            return value.split("|")[1].strip()
        return self._singular(value)

    def _sub_params(self, s: str) -> str:
        for _ in range(8):
            if "{" not in s:
                break
            replaced = self._PARAM.sub(lambda m: self.T(m.group(1)), s)
            if replaced == s:
                break
            s = replaced
        return s


@dataclass(frozen=True, slots=True)
class ListmonkURLs:
    """listmonk's public URLs, built from the root URL like listmonk's initUrls."""

    root_url: str

    @property
    def root(self) -> str:
        return self.root_url.rstrip("/")

    def unsubscribe(self, campaign_uuid: str, subscriber_uuid: str) -> str:
        return f"{self.root}/subscription/{campaign_uuid}/{subscriber_uuid}"

    def optin(self, subscriber_uuid: str, list_query: str = "") -> str:
        return f"{self.root}/subscription/optin/{subscriber_uuid}?{list_query}"

    def link(self, link_uuid: str, campaign_uuid: str, subscriber_uuid: str) -> str:
        return f"{self.root}/link/{link_uuid}/{campaign_uuid}/{subscriber_uuid}"

    def message(self, campaign_uuid: str, subscriber_uuid: str) -> str:
        return f"{self.root}/campaign/{campaign_uuid}/{subscriber_uuid}"

    def view_pixel(self, campaign_uuid: str, subscriber_uuid: str) -> str:
        return f"{self.root}/campaign/{campaign_uuid}/{subscriber_uuid}/px.png"

    @property
    def archive(self) -> str:
        return self.root + "/archive"


def member(obj: Any, name: str) -> Any:
    """Read a field of template data the way a template would (dict key or exposed field)."""
    if isinstance(obj, Mapping):
        return obj.get(name, MISSING)
    if is_struct(obj) and name in exposed_members(type(obj)):
        value = getattr(obj, name)
        return value() if callable(value) else value
    return MISSING


def _uuids(msg: Any) -> tuple[str, str]:
    campaign, subscriber = member(msg, "Campaign"), member(msg, "Subscriber")
    c_uuid, s_uuid = member(campaign, "UUID"), member(subscriber, "UUID")
    if not isinstance(c_uuid, str) or not isinstance(s_uuid, str):
        raise ValueError("message has no Campaign.UUID / Subscriber.UUID")
    return c_uuid, s_uuid


def _is_message(value: Any) -> bool:
    """Whether value looks like listmonk's CampaignMessage (what the tracking funcs take)."""
    return member(value, "Campaign") is not MISSING and member(value, "Subscriber") is not MISSING


register_param_type("msg", "*manager.CampaignMessage", _is_message)


def default_link_uuid(url: str) -> str | None:
    """A URL's stable link uuid (``uuid5`` of the URL: the uuid ``link.registered`` gives it
    in every process), for callers without a registry of their own (previews)."""
    return link_uuid_for(url)


def normalise_link(url: str) -> str:
    """The URL TrackLink registers: listmonk turns ``&amp;`` back into ``&`` first."""
    return url.replace("&amp;", "&")


def campaign_link_urls(body: str, content_type: str, template_body: str | None = None,
                       altbody: str | None = None,
                       headers: Iterable[Mapping[str, str]] = ()) -> list[str]:
    """The URLs a campaign tracks: literal TrackLink arguments of its body (Markdown converted
    first, as compiling does), its template, alt body and header values."""
    content = markdown_to_html(body) if content_type == "markdown" else body
    values = [v for header in headers for v in header.values()]
    return track_link_urls(content, template_body or "", altbody or "", *values)


def _children(node: Any) -> Iterator[Any]:
    for f in dataclasses.fields(node):
        if f.name in ("pos", "src"):
            continue
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, Node))


def track_link_urls(*sources: str) -> list[str]:
    """The URLs passed literally to ``TrackLink`` in template sources (after listmonk's
    shorthand rewrites), in order, normalised as TrackLink registers them. A source that does
    not parse adds nothing (compiling it reports the error)."""
    found: dict[str, None] = {}
    for source in sources:
        if not source or "TrackLink" not in source:
            continue
        try:
            trees = parse("links", rewrite_shorthands(source), lambda _name: True)
        except (TemplateError, RecursionError):
            continue
        stack: list[Any] = [tree.root for tree in trees.values()]
        while stack:
            node = stack.pop()
            if (isinstance(node, CommandNode) and len(node.args) >= 2
                    and isinstance(node.args[0], IdentifierNode)
                    and node.args[0].ident == "TrackLink"
                    and isinstance(node.args[1], StringNode)):
                found[normalise_link(node.args[1].text)] = None
            stack.extend(_children(node))
    return list(found)


def generic_funcs(*, i18n: I18n | Mapping[str, str] | None = None,
                  clock: Callable[[], datetime] | None = None,
                  local_tz: tzinfo = UTC) -> dict[str, Callable[..., Any]]:
    """Date, L, Safe and Sprig (without env/expandenv/getHostByName): tx templates' set."""
    now = clock or (lambda: datetime.now(local_tz))
    lang = i18n if isinstance(i18n, I18n) else I18n(i18n)

    @gofunc("string")
    def date(layout: str) -> str:
        t = now()
        t = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
        return format_time(t.astimezone(local_tz), layout or ANSIC)

    @gofunc()
    def lang_fn() -> I18n:
        return lang

    @gofunc("string")
    def safe(s: str) -> HTML:
        return HTML(s)

    funcs = sprig_funcs(clock=now, local_tz=local_tz)
    funcs.update({"Date": date, "L": lang_fn, "Safe": safe})
    return funcs


def campaign_funcs(*, root_url: str, campaign_uuid: str = "",
                   link_uuid: Callable[[str], str | None] = default_link_uuid,
                   disable_tracking: bool = False, individual_tracking: bool = False,
                   i18n: I18n | Mapping[str, str] | None = None,
                   clock: Callable[[], datetime] | None = None,
                   local_tz: tzinfo = UTC) -> dict[str, Callable[..., Any]]:
    """listmonk's campaign function map (manager.TemplateFuncs) over generic_funcs.

    link_uuid gives a tracked URL's link UUID (listmonk's CreateLink), or None for a URL that
    is not registered: TrackLink then leaves it as it is (listmonk's fallback when a link
    cannot be registered; docs/tracking.md); campaign_uuid is the compiled campaign's UUID,
    used by MessageURL as listmonk does.
    """
    urls = ListmonkURLs(root_url)

    def tracked_subscriber(s_uuid: str) -> str:
        return s_uuid if individual_tracking else DUMMY_UUID

    @gofunc("string", "msg")
    def track_link(url: str, msg: Any) -> str:
        c_uuid, s_uuid = _uuids(msg)
        if disable_tracking:
            return url
        url = normalise_link(url)
        link = link_uuid(url)
        if link is None:
            return url
        return urls.link(link, c_uuid, tracked_subscriber(s_uuid))

    @gofunc("msg")
    def track_view(msg: Any) -> HTML:
        c_uuid, s_uuid = _uuids(msg)
        if disable_tracking:
            return HTML("")
        pixel = urls.view_pixel(c_uuid, tracked_subscriber(s_uuid))
        return HTML(f'<img src="{pixel}" width="1" height="1" '
                    'style="display:none;max-height:0;max-width:0;opacity:0" alt="">')

    @gofunc("msg")
    def unsubscribe_url(msg: Any) -> str:
        return urls.unsubscribe(*_uuids(msg))

    @gofunc("msg")
    def manage_url(msg: Any) -> str:
        return urls.unsubscribe(*_uuids(msg)) + "?manage=true"

    @gofunc("msg")
    def optin_url(msg: Any) -> str:
        return urls.optin(_uuids(msg)[1], "")

    @gofunc("msg")
    def message_url(msg: Any) -> str:
        c_uuid, s_uuid = _uuids(msg)
        return urls.message(campaign_uuid or c_uuid, s_uuid)

    funcs = generic_funcs(i18n=i18n, clock=clock, local_tz=local_tz)
    funcs.update({
        "TrackLink": track_link, "TrackView": track_view, "UnsubscribeURL": unsubscribe_url,
        "ManageURL": manage_url, "OptinURL": optin_url, "MessageURL": message_url,
        "ArchiveURL": gofunc()(lambda: urls.archive), "RootURL": gofunc()(lambda: urls.root),
    })
    return funcs


def listmonk_funcs(**kwargs: Any) -> dict[str, Callable[..., Any]]:
    """Alias of campaign_funcs: the full function map a campaign template sees."""
    return campaign_funcs(**kwargs)
