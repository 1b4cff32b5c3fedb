"""Import statements and dotted names read from tokens, for Python 2 and 3 alike.

Import lines are the same in both languages, so the drop-in step reads them here rather
than with :mod:`ast` (which needs the file to parse as Python 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from legacy_rpc.migration.lexer import COMMENT, NAME, NEWLINE, OP, STRING, Token

__all__ = ["Alias", "ImportStmt", "statements", "parse_import", "chains", "module_strings",
           "code_tokens", "DOTTED"]

DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
"""A string literal that is exactly a dotted module path (a patch or import target)."""
_KEYWORDS = frozenset({"import", "from", "as", "def", "class", "lambda", "if", "elif", "while",
                       "for", "in", "not", "and", "or", "return", "yield", "print", "exec",
                       "assert", "del", "raise", "with", "is", "else", "except", "try"})


@dataclass(frozen=True)
class Alias:
    """``name [as asname]``; ``start``/``end`` are the offsets of ``name``."""

    name: str
    asname: str | None
    start: int
    end: int


@dataclass
class ImportStmt:
    """``import a.b as c, d`` or ``from [..]module import x as y, z`` (``*`` as a name)."""

    tokens: list[Token]
    is_from: bool
    module: str = ""
    level: int = 0
    module_span: tuple[int, int] = (0, 0)
    aliases: list[Alias] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end

    def binds_except(self, left_out: set[int]) -> set[str]:
        """The names this statement binds, but for its aliases whose ``id`` is left out."""
        aliases = [a for a in self.aliases if id(a) not in left_out and a.name != "*"]
        if self.is_from:
            return {a.asname or a.name for a in aliases}
        return {a.asname or a.name.split(".")[0] for a in aliases}


def statements(code: list[Token]) -> Iterator[list[Token]]:
    """Simple statements of ``code`` (tokens without comments), split at line ends, ``;``,
    and after the ``:`` of a one-line compound statement (``try: import x``)."""
    current: list[Token] = []
    for i, token in enumerate(code):
        if token.kind == NEWLINE or (token.depth == 0 and token.text == ";"
                                     and token.kind == OP):
            if current:
                yield current
            current = []
            continue
        current.append(token)
        nxt = code[i + 1] if i + 1 < len(code) else None
        if (token.kind == OP and token.text == ":" and token.depth == 0 and nxt is not None
                and nxt.kind == NAME and nxt.text in ("import", "from")):
            yield current
            current = []
    if current:
        yield current


class _Cursor:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self, text: str | None = None, kind: str | None = None) -> Token | None:
        if self.i >= len(self.tokens):
            return None
        token = self.tokens[self.i]
        if (text is not None and token.text != text) or (kind is not None
                                                         and token.kind != kind):
            return None
        return token

    def take(self, text: str | None = None, kind: str | None = None) -> Token | None:
        token = self.peek(text, kind)
        if token is not None:
            self.i += 1
        return token

    def dotted(self) -> tuple[str, int, int] | None:
        first = self.take(kind=NAME)
        if first is None or first.text in _KEYWORDS:
            return None
        parts, last = [first.text], first
        while self.peek(".", OP) and self.i + 1 < len(self.tokens) and \
                self.tokens[self.i + 1].kind == NAME:
            self.i += 1
            last = self.tokens[self.i]
            parts.append(last.text)
            self.i += 1
        return ".".join(parts), first.start, last.end

    def aliases(self, dotted: bool) -> list[Alias] | None:
        found: list[Alias] = []
        while True:
            name = self.dotted()
            if name is None or (not dotted and "." in name[0]):
                return None
            asname = None
            if self.take("as", NAME):
                target = self.take(kind=NAME)
                if target is None:
                    return None
                asname = target.text
            found.append(Alias(name[0], asname, name[1], name[2]))
            if not self.take(",", OP):
                return found
            if self.peek(")", OP):  # trailing comma inside parentheses
                return found


def parse_import(tokens: list[Token]) -> ImportStmt | None:
    """The import statement made of ``tokens``, or None if it is not one (or malformed)."""
    cur = _Cursor(tokens)
    if cur.take("import", NAME):
        aliases = cur.aliases(dotted=True)
        if aliases is None or cur.peek() is not None:
            return None
        return ImportStmt(tokens, False, aliases=aliases)
    if not cur.take("from", NAME):
        return None
    stmt = ImportStmt(tokens, True)
    while cur.take(".", OP):
        stmt.level += 1
    if not cur.peek("import", NAME):
        module = cur.dotted()
        if module is None:
            return None
        stmt.module, stmt.module_span = module[0], (module[1], module[2])
    if not cur.take("import", NAME):
        return None
    star = cur.take("*", OP)
    if star is not None:
        stmt.aliases = [Alias("*", None, star.start, star.end)]
    else:
        paren = cur.take("(", OP)
        aliases = cur.aliases(dotted=False)
        if aliases is None or (paren is not None and not cur.take(")", OP)):
            return None
        stmt.aliases = aliases
    return stmt if cur.peek() is None else None


def chains(code: list[Token], skip: set[int]) -> Iterator[tuple[list[Token], Token | None]]:
    """Dotted name chains ``a.b.c`` in ``code`` (not attributes of something else), with
    the token after each; tokens whose index is in ``skip`` (import statements) are not
    looked at."""
    i = 0
    while i < len(code):
        token = code[i]
        before = code[i - 1] if i else None
        if i in skip or token.kind != NAME or token.text in _KEYWORDS or (
                before is not None and before.kind == OP and before.text == "."):
            i += 1
            continue
        chain = [token]
        while (i + 2 < len(code) and code[i + 1].kind == OP and code[i + 1].text == "."
               and code[i + 2].kind == NAME):
            chain.append(code[i + 2])
            i += 2
        i += 1
        yield chain, code[i] if i < len(code) else None


def module_strings(code: list[Token]) -> Iterator[tuple[Token, str, str | None]]:
    """String literals that are exactly a dotted path: (token, path, called function).

    The called function is the name before the parenthesis the string is in
    (``import_opt`` in ``CONF.import_opt('x', 'a.b')``), or None.
    """
    calls: list[str | None] = []
    for i, token in enumerate(code):
        if token.kind == OP and token.text in "([{":
            before = code[i - 1] if i else None
            calls.append(before.text if token.text == "(" and before is not None
                         and before.kind == NAME else None)
        elif token.kind == OP and token.text in ")]}":
            if calls:
                calls.pop()
        elif (token.kind == STRING and token.prefix.lower() in ("", "u", "r")
              and len(token.quote) == 1):
            start, end = token.body
            if end - start == len(token.text) - len(token.prefix) - 2:  # closed
                value = token.text[len(token.prefix) + 1:-1]
                if DOTTED.fullmatch(value):
                    yield token, value, calls[-1] if calls else None


def code_tokens(tokens: list[Token]) -> list[Token]:
    """``tokens`` without comments."""
    return [t for t in tokens if t.kind != COMMENT]
