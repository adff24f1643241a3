"""Tokenizer for Go's template language, following text/template/parse/lex.go.

It reproduces Go's rules for trim markers (``{{- `` / `` -}}``), comments (``{{/* */}}``,
which must touch the delimiters), what may follow an identifier, and the exact error
texts ("unclosed action", "bad character U+0023 '#'", ...).
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Callable
from typing import Any, NamedTuple

from .gostrings import go_quote, is_print, rune_desc

State = Callable[[], Any] | None

# Token types. Keywords sort after KEYWORD, as in Go (they print as <word> in errors).
ERROR, BOOL, CHAR, CHAR_CONSTANT, COMPLEX, ASSIGN, DECLARE, EOF, FIELD, IDENTIFIER = range(10)
LEFT_DELIM, LEFT_PAREN, NUMBER, PIPE, RAW_STRING, RIGHT_DELIM, RIGHT_PAREN = range(10, 17)
SPACE, STRING, TEXT, VARIABLE, KEYWORD = range(17, 22)
DOT, BLOCK, BREAK, CONTINUE, DEFINE, ELSE, END, IF, NIL, RANGE, TEMPLATE, WITH = range(22, 34)

KEYWORDS = {
    ".": DOT, "block": BLOCK, "break": BREAK, "continue": CONTINUE, "define": DEFINE,
    "else": ELSE, "end": END, "if": IF, "nil": NIL, "range": RANGE, "template": TEMPLATE,
    "with": WITH,
}

LEFT, RIGHT = "{{", "}}"
SPACE_CHARS = " \t\r\n"


class Token(NamedTuple):
    typ: int
    pos: int
    val: str
    line: int

    def describe(self) -> str:
        """How Go's item.String() shows this token in error messages."""
        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ > KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def is_space(ch: str) -> bool:
    return ch in (" ", "\t", "\r", "\n")


def is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or (ch != "" and unicodedata.category(ch) == "Nd")


class Lexer:
    """Turns template text into tokens (Go's state machine, run to completion)."""

    def __init__(self, text: str, break_ok: bool = True, continue_ok: bool = True) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self.tokens: list[Token] = []
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def run(self) -> list[Token]:
        state: State = self.lex_text
        while state is not None:
            state = state()
        return self.tokens

    # -- helpers ------------------------------------------------------------------------
    def emit(self, typ: int) -> None:
        self.tokens.append(Token(typ, self.start, self.text[self.start:self.pos],
                                 self.line_at(self.start)))
        self.start = self.pos

    def error(self, message: str) -> None:
        self.tokens.append(Token(ERROR, self.start, message, self.line_at(self.start)))

    def next(self) -> str:
        if self.pos >= len(self.text):
            self.pos += 1
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def backup(self) -> None:
        self.pos -= 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_right_delim(self) -> tuple[bool, bool]:
        rest = self.text[self.pos:self.pos + 4]
        if len(rest) >= 2 and is_space(rest[0]) and rest[1] == "-" and rest[2:4] == RIGHT:
            return True, True
        return rest.startswith(RIGHT), False

    def at_terminator(self) -> bool:
        ch = self.peek()
        if ch == "" or is_space(ch) or ch in ".,|:)(":
            return True
        return self.text.startswith(RIGHT, self.pos)

    # -- states -------------------------------------------------------------------------
    def lex_text(self) -> State:
        x = self.text.find(LEFT, self.pos)
        if x < 0:
            self.pos = len(self.text)
            if self.pos > self.start:
                self.emit(TEXT)
            self.emit(EOF)
            return None
        if x > self.pos:
            self.pos = x
            after = self.text[x + 2:x + 4]
            trim = 0
            if len(after) == 2 and after[0] == "-" and is_space(after[1]):
                chunk = self.text[self.start:self.pos]
                trim = len(chunk) - len(chunk.rstrip(SPACE_CHARS))
            self.pos -= trim
            if self.pos > self.start:
                self.emit(TEXT)
            self.pos += trim
            self.start = self.pos
        return self.lex_left_delim

    def lex_left_delim(self) -> State:
        self.pos += len(LEFT)
        after = self.text[self.pos:self.pos + 2]
        trim = len(after) == 2 and after[0] == "-" and is_space(after[1])
        marker = 2 if trim else 0
        if self.text.startswith("/*", self.pos + marker):
            self.pos += marker
            self.start = self.pos
            return self.lex_comment
        self.emit(LEFT_DELIM)
        self.pos += marker
        self.start = self.pos
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> State:
        self.pos += 2
        x = self.text.find("*/", self.pos)
        if x < 0:
            self.error("unclosed comment")
            return None
        self.pos = x + 2
        delim, trim = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        self.pos += (2 if trim else 0) + len(RIGHT)
        if trim:
            self.skip_leading_space()
        self.start = self.pos
        return self.lex_text

    def skip_leading_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in SPACE_CHARS:
            self.pos += 1

    def lex_right_delim(self) -> State:
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.start = self.pos
        self.pos += len(RIGHT)
        self.emit(RIGHT_DELIM)
        if trim:
            self.skip_leading_space()
            self.start = self.pos
        return self.lex_text

    def lex_inside_action(self) -> State:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        ch = self.next()
        if ch == "":
            self.error("unclosed action")
            return None
        if is_space(ch):
            self.backup()
            return self.lex_space
        if ch == "=":
            self.emit(ASSIGN)
        elif ch == ":":
            if self.next() != "=":
                self.error("expected :=")
                return None
            self.emit(DECLARE)
        elif ch == "|":
            self.emit(PIPE)
        elif ch == '"':
            return self.lex_quote
        elif ch == "`":
            return self.lex_raw_quote
        elif ch == "$":
            return self.lex_variable
        elif ch == "'":
            return self.lex_char
        elif ch == "." and not ("0" <= self.peek() <= "9" and self.peek() != ""):
            return self.lex_field
        elif ch in "+-." or "0" <= ch <= "9":
            self.backup()
            return self.lex_number
        elif is_alnum(ch):
            self.backup()
            return self.lex_identifier
        elif ch == "(":
            self.emit(LEFT_PAREN)
            self.paren_depth += 1
        elif ch == ")":
            self.emit(RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error("unexpected right paren")
                return None
        elif ord(ch) < 0x80 and is_print(ch):
            self.emit(CHAR)
        else:
            self.error(f"unrecognized character in action: {rune_desc(ch)}")
            return None
        return self.lex_inside_action

    def lex_space(self) -> State:
        spaces = 0
        while self.peek() != "" and is_space(self.peek()):
            self.pos += 1
            spaces += 1
        rest = self.text[self.pos - 1:self.pos + 3]
        if rest[1:2] == "-" and rest[2:4] == RIGHT:
            self.backup()
            if spaces == 1:
                return self.lex_right_delim
        self.emit(SPACE)
        return self.lex_inside_action

    def lex_identifier(self) -> State:
        while is_alnum(self.peek()):
            self.pos += 1
        word = self.text[self.start:self.pos]
        if not self.at_terminator():
            self.error(f"bad character {rune_desc(self.peek())}")
            return None
        kw = KEYWORDS.get(word)
        if kw is not None and kw > KEYWORD and not (
                (kw == BREAK and not self.break_ok) or (kw == CONTINUE and not self.continue_ok)):
            self.emit(kw)
        elif word in ("true", "false"):
            self.emit(BOOL)
        else:
            self.emit(IDENTIFIER)
        return self.lex_inside_action

    def lex_field(self) -> State:
        return self.lex_field_or_variable(FIELD)

    def lex_variable(self) -> State:
        if self.at_terminator():
            self.emit(VARIABLE)
            return self.lex_inside_action
        return self.lex_field_or_variable(VARIABLE)

    def lex_field_or_variable(self, typ: int) -> State:
        if self.at_terminator():
            self.emit(VARIABLE if typ == VARIABLE else DOT)
            return self.lex_inside_action
        while is_alnum(self.peek()):
            self.pos += 1
        if not self.at_terminator():
            self.error(f"bad character {rune_desc(self.peek())}")
            return None
        self.emit(typ)
        return self.lex_inside_action

    def lex_char(self) -> State:
        while True:
            ch = self.next()
            if ch == "\\":
                ch = self.next()
                if ch not in ("", "\n"):
                    continue
            if ch in ("", "\n"):
                self.error("unterminated character constant")
                return None
            if ch == "'":
                break
        self.emit(CHAR_CONSTANT)
        return self.lex_inside_action

    def lex_number(self) -> State:
        if not self.scan_number():
            self.error(f"bad number syntax: {go_quote(self.text[self.start:self.pos])}")
            return None
        if self.peek() in ("+", "-") and self.peek() != "":
            if not self.scan_number() or self.text[self.pos - 1] != "i":
                self.error(f"bad number syntax: {go_quote(self.text[self.start:self.pos])}")
                return None
            self.emit(COMPLEX)
        else:
            self.emit(NUMBER)
        return self.lex_inside_action

    def accept(self, valid: str) -> bool:
        ch = self.peek()
        if ch != "" and ch in valid:
            self.pos += 1
            return True
        return False

    def accept_run(self, valid: str) -> None:
        while self.accept(valid):
            pass

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()) and self.peek() != "":
            self.pos += 1
            return False
        return True

    def lex_quote(self) -> State:
        while True:
            ch = self.next()
            if ch == "\\":
                ch = self.next()
                if ch not in ("", "\n"):
                    continue
            if ch in ("", "\n"):
                self.error("unterminated quoted string")
                return None
            if ch == '"':
                break
        self.emit(STRING)
        return self.lex_inside_action

    def lex_raw_quote(self) -> State:
        end = self.text.find("`", self.pos)
        if end < 0:
            self.error("unterminated raw quoted string")
            return None
        self.pos = end + 1
        self.emit(RAW_STRING)
        return self.lex_inside_action


def lex(text: str, break_ok: bool = True, continue_ok: bool = True) -> list[Token]:
    """All tokens of text; the list ends with EOF or with an ERROR token."""
    return Lexer(text, break_ok, continue_ok).run()
