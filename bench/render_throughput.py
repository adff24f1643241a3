"""Campaign message throughput on one core: template rendering and MIME building, split.

The workload is a typical personalised newsletter: postlog's default campaign template around
an HTML body with five tracked links (``url@TrackLink``), the subscriber's name, first name
and two attributes, a templated subject and a templated custom header. Each message is for a
different subscriber. Stages, each measured alone for ``--seconds`` in one thread, pinned to
one CPU when the OS allows it:

- ``render``: subject, body and headers (``services.sender.rendering.render_campaign``);
- ``text alternative``: ``html_to_text`` of a rendered body (the derived text/plain part);
- ``MIME build``: ``build_mime`` of already rendered content (alt text given) + ``as_bytes``;
- ``full``: ``campaign_mail(...).as_bytes()``, everything a sender does before SMTP.

Reference, same run: ``str.format`` producing byte-for-byte the same HTML from a pre-rendered
copy of the message with placeholders (checked equal for sample subscribers) — the floor of
any per-subscriber templating in Python. No database or network is used.

    .venv/bin/python bench/render_throughput.py [--seconds 3] [--subscribers 1000]
"""

from __future__ import annotations

import email.policy
import gc
import html
import os
import platform
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import base_parser, report
from events.campaigns import CampaignContent
from events.messages import MessageContent
from services.sender.message import build_mime, campaign_mail
from services.sender.rendering import CompiledCampaign, compile_campaign, render_campaign
from services.sender.templating import campaign_funcs, html_to_text
from services.sender.templating.data import Campaign, CampaignMessage, Subscriber

ROOT = Path(__file__).resolve().parents[1]
ROOT_URL = "https://lists.example.com"
CAMPAIGN_UUID = "6b9f3bb8-8a5b-4a43-9a3b-2a3c1f0c1d01"
SUBJECT = "{{ .Subscriber.FirstName }}, your March digest from {{ .Subscriber.Attribs.city }}"
BODY = """
<h1>Hello {{ .Subscriber.FirstName }},</h1>
<p>Here is what happened this month in {{ .Subscriber.Attribs.city }}. We picked five stories
for readers on the {{ .Subscriber.Attribs.plan }} plan, {{ .Subscriber.Name }}.</p>
<h2>1. The new park opens</h2>
<p>After two years of work the riverside park opens on Saturday, with concerts all weekend.
<a href="https://news.example.com/2026/03/park@TrackLink">Read the full story</a>.</p>
<h2>2. Trams run later</h2>
<p>From April the night trams run every 20 minutes until 2 a.m. on Fridays and Saturdays.
<a href="https://news.example.com/2026/03/trams@TrackLink">See the new timetable</a>.</p>
<h2>3. Market week</h2>
<p>Forty stalls, local cheese, and a bread contest judged by last year's winner.
<a href="https://news.example.com/2026/03/market@TrackLink">Find the stalls</a>.</p>
<h2>4. Library hours</h2>
<p>The central library now opens on Sundays from 10 to 4.
<a href="https://news.example.com/2026/03/library@TrackLink">Plan a visit</a>.</p>
<h2>5. Your feedback</h2>
<p>Tell us what you would like to read next month.
<a class="button" href="https://news.example.com/survey?from=digest@TrackLink">Take the
two-minute survey</a></p>
<p>Thanks for reading,<br>The Example News team</p>
"""
HEADERS = [{"X-Reader-City": "{{ .Subscriber.Attribs.city }}"}]
CITIES = ("Porto", "Lyon", "Tromsø", "Kraków", "Ghent", "Bologna", "Aarhus", "Graz")
PLANS = ("free", "plus", "pro")
_FIRST, _LAST, _CITY, _PLAN = "Qqfirst", "Qqlast", "Qqcity", "Qqplan"
_UUID = "99999999-9999-4999-8999-999999999999"


def subscribers(count: int) -> list[Subscriber]:
    return [Subscriber(ID=i + 1, UUID=str(uuid.UUID(int=i + 1, version=4)),
                       Email=f"reader{i}@example.org", Name=f"Reader{i} Lastname{i}",
                       Attribs={"city": CITIES[i % len(CITIES)], "plan": PLANS[i % len(PLANS)]})
            for i in range(count)]


def compiled_campaign() -> CompiledCampaign:
    template = (ROOT / "services/command_api/templates/defaults/campaign.html").read_text()
    content = CampaignContent(name="March digest", subject=SUBJECT,
                              from_email="Example News <news@example.com>", body=BODY,
                              content_type="richtext", headers=HEADERS)
    funcs = campaign_funcs(root_url=ROOT_URL, campaign_uuid=CAMPAIGN_UUID)
    return compile_campaign(content, campaign_uuid=CAMPAIGN_UUID, template_body=template,
                            funcs=funcs, root_url=ROOT_URL)


def messages(subs: list[Subscriber]) -> list[CampaignMessage]:
    campaign = Campaign(ID=1, UUID=CAMPAIGN_UUID, Name="March digest", Subject=SUBJECT)
    return [CampaignMessage(Campaign=campaign, Subscriber=s) for s in subs]


def format_reference(compiled: CompiledCampaign, campaign: Campaign) -> Callable[[Subscriber],
                                                                                   str]:
    """``str.format`` over the body rendered once with placeholder values."""
    probe = Subscriber(UUID=_UUID, Email="probe@example.org", Name=f"{_FIRST} {_LAST}",
                       Attribs={"city": _CITY, "plan": _PLAN})
    rendered = compiled.body.render(CampaignMessage(Campaign=campaign, Subscriber=probe))
    fmt = rendered.replace("{", "{{").replace("}", "}}")
    for sentinel, field in ((f"{_FIRST} {_LAST}", "name"), (_FIRST, "first"), (_CITY, "city"),
                            (_PLAN, "plan"), (_UUID, "uuid")):
        fmt = fmt.replace(sentinel, "{" + field + "}")

    def render(s: Subscriber) -> str:
        return fmt.format(name=html.escape(s.Name), first=html.escape(s.FirstName()),
                          city=html.escape(s.Attribs["city"]), plan=html.escape(s.Attribs["plan"]),
                          uuid=s.UUID)

    return render


def measure(stage: Callable[[int], object], seconds: float, count: int) -> float:
    """Calls per CPU second of ``stage(i)`` (i cycling over the subscribers), run for
    ``seconds`` of this thread's CPU time: other processes on the machine slow the run down
    but do not change the figure much."""
    for i in range(min(count, 50)):  # warm-up
        stage(i)
    gc.collect()
    done, start = 0, time.thread_time()
    deadline = start + seconds
    while True:
        for _ in range(25):
            stage(done % count)
            done += 1
        if time.thread_time() >= deadline:
            break
    return done / (time.thread_time() - start)


def _pin_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"cpu {cpu}"


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "", 3.0)
    parser.add_argument("--subscribers", type=int, default=1000,
                        help="distinct subscribers cycled through (default 1000)")
    args = parser.parse_args()
    pinned = _pin_one_cpu()
    compiled = compiled_campaign()
    msgs = messages(subscribers(args.subscribers))
    rendered = [render_campaign(compiled, m) for m in msgs]
    texts = [html_to_text(c.body) for c in rendered]
    with_text = [MessageContent(to=c.to, name=c.name, subject=c.subject, body=c.body,
                                altbody=t, headers=c.headers) for c, t in zip(rendered, texts,
                                                                              strict=True)]
    reference = format_reference(compiled, msgs[0].Campaign)
    for m, c in list(zip(msgs, rendered, strict=True))[:20]:
        assert reference(m.Subscriber) == c.body, "reference output differs from the render"
    size = sum(len(campaign_mail(compiled, m).as_bytes()) for m in msgs[:20]) // 20

    stages: list[tuple[str, Callable[[int], Any]]] = [
        ("render (subject + body + headers)", lambda i: render_campaign(compiled, msgs[i])),
        ("text alternative (html_to_text)", lambda i: html_to_text(rendered[i].body)),
        ("MIME build + as_bytes", lambda i: build_mime(
            with_text[i], from_email=compiled.from_email, message_id="m").as_bytes()),
        ("full: campaign_mail().as_bytes()",
         lambda i: campaign_mail(compiled, msgs[i], message_id="m").as_bytes()),
        ("reference: str.format of the same HTML", lambda i: reference(msgs[i].Subscriber)),
        ("reference: MIME build with stock policy.SMTP", lambda i: build_mime(
            with_text[i], from_email=compiled.from_email, message_id="m",
            policy=email.policy.SMTP).as_bytes()),
    ]
    rates = {name: measure(fn, args.seconds, args.subscribers) for name, fn in stages}
    full = rates["full: campaign_mail().as_bytes()"]
    rows = [(name, rate, 1e6 / rate, (1e6 / rate) / (1e6 / full)) for name, rate in rates.items()]
    report("Campaign message render throughput (one core, per CPU second)",
           ["stage", "msgs/s", "us/msg", "time / full"], rows,
           {"python": platform.python_version(), "cpus": os.cpu_count(), "pinned": pinned,
            "load_1m": f"{os.getloadavg()[0]:.2f}", "subscribers": args.subscribers,
            "html bytes": len(rendered[0].body), "message bytes": size},
           args.json)


if __name__ == "__main__":
    main()
