"""A forgiving lexer for Python 2 and Python 3 source: tokens with their offsets.

The migration tools read import lines and string literals of files that do not parse as
Python 3 (all real legacy code is Python 2), so this lexer knows both languages' strings
(``ur''`` included), comments, brackets and line continuations, and never raises: an
unterminated string runs to the end of its line (or of the file, for a triple-quoted
one), an unknown character is a one-character operator.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

__all__ = ["Token", "tokenize", "NAME", "NUMBER", "STRING", "OP", "COMMENT", "NEWLINE"]

NAME, NUMBER, STRING, OP, COMMENT, NEWLINE = ("name", "number", "string", "op", "comment",
                                              "newline")

_STRING_START = re.compile(r"(?i)(?:[rubf]|ur|ru|br|rb|fr|rf)?(?:'''|\"\"\"|'|\")")
_NAME = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(r"(?:\d|\.\d)(?:[\w.]|(?<=[eE])[+-])*")
_OPERATORS = ("<>", "->", "**", "//", ">>", "<<", "!=", "==", "<=", ">=", ":=")
_BLANK = re.compile(r"[ \t\f]+")
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True, slots=True)
class Token:
    """``text`` at ``start:end`` of the source; ``line``/``col`` are 1-based.

    ``depth`` is the bracket depth before the token; a ``newline`` token ends a logical
    line (it is only produced outside brackets). For strings, ``prefix`` is the letters
    before the quotes and ``quote`` the quotes (one or three characters).
    """

    kind: str
    text: str
    start: int
    end: int
    line: int
    col: int
    depth: int
    prefix: str = ""
    quote: str = ""

    @property
    def body(self) -> tuple[int, int]:
        """Offsets of a string's contents, between its quotes."""
        start = self.start + len(self.prefix) + len(self.quote)
        closed = self.text.endswith(self.quote) and len(self.text) >= (
            len(self.prefix) + 2 * len(self.quote))
        return start, self.end - len(self.quote) if closed else self.end


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
        self.tokens: list[Token] = []
        self.depth = 0

    def emit(self, kind: str, start: int, end: int, prefix: str = "", quote: str = "") -> None:
        line = bisect.bisect_right(self.line_starts, start)
        col = start - self.line_starts[line - 1] + 1
        self.tokens.append(Token(kind, self.text[start:end], start, end, line, col,
                                 self.depth, prefix, quote))

    def string_end(self, pos: int, quote: str) -> int:
        """Offset after the string whose contents start at ``pos``."""
        text, n = self.text, len(self.text)
        while pos < n:
            char = text[pos]
            if char == "\\":
                pos += 2
                continue
            if text.startswith(quote, pos):
                return pos + len(quote)
            if len(quote) == 1 and char in "\r\n":
                return pos  # unterminated: ends with its line
            pos += 1
        return n

    def run(self) -> list[Token]:
        text, n, pos = self.text, len(self.text), 0
        while pos < n:
            char = text[pos]
            blank = _BLANK.match(text, pos)
            if blank:
                pos = blank.end()
            elif char == "\\" and text.startswith(("\r\n", "\n", "\r"), pos + 1):
                pos += 3 if text.startswith("\r\n", pos + 1) else 2
            elif char in "\r\n":
                end = pos + (2 if text.startswith("\r\n", pos) else 1)
                if self.depth == 0:
                    self.emit(NEWLINE, pos, end)
                pos = end
            elif char == "#":
                end = pos
                while end < n and text[end] not in "\r\n":
                    end += 1
                self.emit(COMMENT, pos, end)
                pos = end
            elif (string := _STRING_START.match(text, pos)) is not None:
                quote = string.group()[-3:] if string.group().endswith(
                    ("'''", '"""')) else string.group()[-1]
                prefix = string.group()[:-len(quote)]
                end = self.string_end(string.end(), quote)
                self.emit(STRING, pos, end, prefix, quote)
                pos = end
            elif (name := _NAME.match(text, pos)) is not None:
                self.emit(NAME, pos, name.end())
                pos = name.end()
            elif (number := _NUMBER.match(text, pos)) is not None:
                self.emit(NUMBER, pos, number.end())
                pos = number.end()
            else:
                width = 2 if text.startswith(_OPERATORS, pos) else 1
                if char in _CLOSE:
                    self.depth = max(0, self.depth - 1)
                self.emit(OP, pos, pos + width)
                if char in _OPEN:
                    self.depth += 1
                pos += width
        return self.tokens


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` (blanks and line continuations left out). Never raises."""
    return _Lexer(text).run()
