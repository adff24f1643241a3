"""Rewriting output pipelines so they end in the escapers their context needs.

Follows html/template's ensurePipelineContains: a trailing predefined escaper
(``html``, ``urlquery``) is merged with an equivalent contextual one, and redundant
escaper pairs are not both appended.
"""

from __future__ import annotations

from .nodes import CommandNode, IdentifierNode, PipeNode

PREDEFINED = {"html", "urlquery"}
_EQUIV = {"_html_template_attrescaper": "html", "_html_template_htmlescaper": "html",
          "_html_template_rcdataescaper": "html", "_html_template_urlescaper": "urlquery",
          "_html_template_urlnormalizer": "urlquery"}
_REDUNDANT = {
    "_html_template_commentescaper": {"_html_template_attrescaper",
                                      "_html_template_htmlescaper"},
    "_html_template_cssescaper": {"_html_template_attrescaper"},
    "_html_template_jsregexpescaper": {"_html_template_attrescaper"},
    "_html_template_jsstrescaper": {"_html_template_attrescaper"},
    "_html_template_urlescaper": {"_html_template_urlnormalizer"},
}


def _normalize(name: str) -> str:
    return _EQUIV.get(name, name)


def _new_ident_cmd(name: str, pipe: PipeNode) -> CommandNode:
    return CommandNode(pipe.pos, pipe.src, [IdentifierNode(pipe.pos, pipe.src, name)])


def _append_cmd(cmds: list[CommandNode], cmd: CommandNode) -> list[CommandNode]:
    if cmds:
        last, nxt = cmds[-1].args[0], cmd.args[0]
        if (isinstance(last, IdentifierNode) and isinstance(nxt, IdentifierNode)
                and nxt.ident in _REDUNDANT.get(last.ident, ())):
            return cmds
    return [*cmds, cmd]


def ensure_pipeline_contains(p: PipeNode, s: list[str]) -> None:
    """Make the pipeline end with the escapers s, merging a trailing html/urlquery."""
    if not s:
        return
    cmds = list(p.cmds)
    length = len(cmds)
    if length:
        last = cmds[-1]
        first = last.args[0]
        if isinstance(first, IdentifierNode) and first.ident in PREDEFINED:
            esc = first.ident
            if length == 1 and len(last.args) > 1:
                last.args[0] = IdentifierNode(first.pos, first.src, "_eval_args_")
                cmds = _append_cmd(cmds, _new_ident_cmd(esc, p))
                length += 1
            dup = False
            for i, name in enumerate(s):
                if _normalize(esc) == _normalize(name):
                    s[i] = esc
                    dup = True
            if dup:
                length -= 1
    new_cmds = cmds[:length]
    inserted = {_normalize(c.args[0].ident) for c in new_cmds
                if isinstance(c.args[0], IdentifierNode)}
    for name in s:
        if _normalize(name) not in inserted:
            new_cmds = _append_cmd(new_cmds, _new_ident_cmd(name, p))
    p.cmds = new_cmds
