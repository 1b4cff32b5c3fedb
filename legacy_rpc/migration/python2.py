"""Telling Python 2 source from a file with a syntax error.

Real legacy code is Python 2. A file that does not parse as Python 3 is taken for Python 2
when it shows a construct only Python 2 has (a ``print`` or ``exec`` statement,
``except E, e:``, ``raise E, msg``, backquotes, ``<>``, ``0777``, ``10L``, ``ur''``, tabs
and spaces mixed in an indent); otherwise it is a file with a syntax error, which the
tools do not touch.
"""

from __future__ import annotations

import re

from legacy_rpc.migration import imports, lexer
from legacy_rpc.migration.lexer import NAME, NUMBER, OP, STRING, Token

__all__ = ["python2_reason", "PORT_ADVICE"]

PORT_ADVICE = ("port it to Python 3 (for example 2to3 -w FILE, then pyupgrade): legacy_rpc "
               "runs on Python 3 only; its call sites are found from tokens until then, "
               "scan again once it parses")

_OCTAL = re.compile(r"0\d*[1-9]\d*[lL]?")
_LONG = re.compile(r"(?:0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|\d+)[lL]")
_STATEMENT_FOLLOWERS = frozenset({NAME, NUMBER, STRING})


def _statement_marker(stmt: list[Token]) -> str | None:
    first = stmt[0]
    second = stmt[1] if len(stmt) > 1 else None
    if first.kind != NAME:
        return None
    if first.text in ("print", "exec") and second is not None and (
            second.kind in _STATEMENT_FOLLOWERS or second.text == ">>"):
        return f"a {first.text} statement"
    if first.text in ("except", "raise") and any(
            t.text == "," and t.kind == OP and t.depth == first.depth for t in stmt[1:]):
        return "except E, e:" if first.text == "except" else "raise E, message"
    return None


def _token_marker(token: Token) -> str | None:
    if token.kind == OP and token.text in ("`", "<>"):
        return f"the {token.text} operator"
    if token.kind == NUMBER and (_OCTAL.fullmatch(token.text) or _LONG.fullmatch(token.text)):
        return f"the number {token.text}"
    if token.kind == STRING and "u" in token.prefix.lower() and "r" in token.prefix.lower():
        return f"a {token.prefix} string"
    return None


def python2_reason(text: str, error: SyntaxError) -> str | None:
    """Why ``text``, which failed to parse as Python 3 with ``error``, is Python 2 source
    (a short description with its line), or None when it shows no Python 2 construct."""
    if isinstance(error, TabError):
        return f"tabs and spaces mixed in an indent (line {error.lineno})"
    code = imports.code_tokens(lexer.tokenize(text))
    for stmt in imports.statements(code):
        found = _statement_marker(stmt)
        if found is not None:
            return f"{found} (line {stmt[0].line})"
    for token in code:
        found = _token_marker(token)
        if found is not None:
            return f"{found} (line {token.line})"
    return None
