"""Secret masking for log lines, reprs and exception texts.

Passwords must never reach a log line, a ``repr()`` or an exception message. Two tools do
it: :func:`mask_url` hides the password of every ``scheme://user:password@host`` found in a
piece of text, and :func:`sanitize` makes a masked deep copy of message data following the
legacy ``_safe_log`` rules (extended: more secret-looking keys, nested lists, URLs in values).

Their input may come from a hostile peer (a malformed message is logged), so the text
scanners run in linear time whatever the text, :func:`sanitize` stops at
:data:`MAX_DEPTH` levels, and :func:`sanitize_body` looks at a bounded prefix of a body only.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from legacy_rpc.messaging import _jsonutils

__all__ = ["MASK", "SANITIZED", "TOO_DEEP", "MAX_DEPTH", "BODY_WINDOW", "mask_url", "mask_text",
           "sanitize", "safe_log", "safe_repr", "sanitize_body"]

MASK = "****"
"""What a password inside a URL is replaced with."""

SANITIZED = "<SANITIZED>"
"""What the value of a secret key is replaced with (the legacy ``_safe_log`` marker)."""

TOO_DEEP = "<nested too deep>"
"""What :func:`sanitize` puts in place of containers nested deeper than :data:`MAX_DEPTH`."""

MAX_DEPTH = _jsonutils.MAX_DEPTH
"""Containers :func:`sanitize` descends into (one stack frame each), as many as a received
message may nest."""

BODY_WINDOW = 8192
"""How much of a body (bytes, or characters of text) :func:`sanitize_body` reads at most,
unless its ``limit`` asks for more: the work per logged body is bounded whatever its size."""

# A URL's authority starts after "://" (the scheme itself does not matter for masking).
# Characters that end a URL embedded in free text (whitespace, quotes, angle brackets).
_URL_END = re.compile(r"""[\s'"<>`]""")
_AUTHORITY_END = re.compile(r"[/?#]")
_DIGITS = re.compile(r"[0-9]*")
_BARE_IPV6 = re.compile(r"[0-9A-Fa-f:.%]*")

# Key names (lower case) whose values are always secret, as in the legacy _safe_log.
_SECRET_KEYS = frozenset({"auth_token", "new_pass", "token"})
_CONTEXT_PREFIX = "_context_"


def _suspicious_plain_host(element: str) -> bool:
    """Tell whether a host element without ``@`` may hold the start of a password.

    ``user:pa/ss@host`` splits at the ``/`` into ``user:pa`` and a path; the bogus "port"
    ``pa`` is not numeric, which is what gives it away. Bracketed or bare IPv6 is not suspect.
    """
    if ":" not in element or element.startswith("["):
        return False
    if element.count(":") > 1 and _BARE_IPV6.fullmatch(element):
        return False
    return not _DIGITS.fullmatch(element.partition(":")[2])


def _mask_element(element: str) -> str:
    """Mask the password of one ``[user[:password]@]host[:port]`` element."""
    creds, at, host = element.rpartition("@")
    if not at:
        if _suspicious_plain_host(element):
            return element.partition(":")[0] + ":" + MASK
        return element
    user, colon, _password = creds.partition(":")
    if not colon:
        return element
    return f"{user}:{MASK}@{host}"


def _group_elements(authority: str) -> list[str]:
    """Split an authority into host elements, rejoining a password that held a ``,``.

    ``user:a,b@host`` splits into ``user:a`` (a suspect, see :func:`_suspicious_plain_host`)
    and ``b@host``; a suspect is glued to the elements up to the next one with an ``@``.
    """
    elements = authority.split(",")
    # next_at[k]: the first element from k on that holds an '@' (one pass: linear time).
    next_at: list[int | None] = [None] * len(elements)
    following: int | None = None
    for k in range(len(elements) - 1, -1, -1):
        if "@" in elements[k]:
            following = k
        next_at[k] = following
    groups: list[str] = []
    i = 0
    while i < len(elements):
        element = elements[i]
        if "@" not in element and _suspicious_plain_host(element):
            nxt = next_at[i]
            if nxt is not None:
                element = ",".join(elements[i:nxt + 1])
                i = nxt
        groups.append(element)
        i += 1
    return groups


def _mask_authority(text: str, start: int, token_end: int, last_at: int) -> tuple[int, str]:
    """Mask the credentials at ``text[start:]``, just after a ``://``.

    ``token_end`` ends the URL, ``last_at`` is the position of its last ``@`` (or less than
    ``start``). Return where the authority ends and its masked form.
    """
    match = _AUTHORITY_END.search(text, start, token_end)
    end = match.start() if match else token_end
    groups = _group_elements(text[start:end])
    if last_at >= end and any("@" not in g and _suspicious_plain_host(g) for g in groups):
        # A password with an unquoted '/', '?' or '#' cut the authority short: extend it to
        # the host after the last '@' so that no fragment of the password survives.
        match = _AUTHORITY_END.search(text, last_at, token_end)
        end = match.start() if match else token_end
        groups = _group_elements(text[start:end])
    return end, ",".join(_mask_element(g) for g in groups)


def mask_url(text: str) -> str:
    """Return ``text`` with the password of every ``scheme://user:password@host`` masked.

    Works on free text holding any number of URLs, each with any number of comma-separated
    hosts, and on URLs inside the path or query of others; everything but the passwords is
    left as it was. Linear time: every character is scanned a bounded number of times.
    """
    if "://" not in text:
        return text
    out: list[str] = []
    pos = 0
    token_end = -1  # end of the current URL (a "token": up to whitespace, quote, bracket)
    last_at = -1  # its last '@'
    found = text.find("://")
    while found != -1:
        start = found + 3
        if found >= token_end:  # a new URL; otherwise one in the path or query of the last
            end_match = _URL_END.search(text, start)
            token_end = end_match.start() if end_match else len(text)
            last_at = text.rfind("@", start, token_end)
        end, masked = _mask_authority(text, start, token_end, last_at)
        out.append(text[pos:start])
        out.append(masked)
        pos = end
        found = text.find("://", end)
    out.append(text[pos:])
    return "".join(out)


def _is_secret_key(key: object) -> bool:
    """Tell whether the value stored under ``key`` must not be logged."""
    if not isinstance(key, str):
        return False
    name = key.lower()
    if name.startswith(_CONTEXT_PREFIX):
        name = name[len(_CONTEXT_PREFIX):]
    return (
        "password" in name
        or "secret" in name
        or name in _SECRET_KEYS
        or name.endswith("_token")
    )


_Mask = Callable[[str], str]


def _mask_bytes(data: bytes, mask: _Mask) -> bytes:
    """Mask secrets in bytes, returning the input itself when nothing changed."""
    text = data.decode("utf-8", errors="replace")
    masked = mask(text)
    return data if masked == text else masked.encode("utf-8")


def _sanitize(data: Any, memo: dict[int, Any], depth: int, mask: _Mask) -> Any:
    """Recursive worker of :func:`sanitize`; ``memo`` maps input ids to their copies,
    ``depth`` counts the containers above ``data`` (one stack frame each: no comprehensions,
    which would add frames), ``mask`` masks strings."""
    if isinstance(data, str):
        return mask(data)
    if isinstance(data, bytes):
        return _mask_bytes(data, mask)
    if id(data) in memo:
        return memo[id(data)]
    containers = (dict, list, tuple, set, frozenset)
    if depth >= MAX_DEPTH and isinstance(data, containers):
        return TOO_DEEP
    if isinstance(data, dict):
        # copy.copy keeps the mapping type (OrderedDict, defaultdict, ...) with its items.
        new_dict = copy.copy(data)
        memo[id(data)] = new_dict
        for key, value in data.items():
            new_dict[key] = (SANITIZED if _is_secret_key(key)
                             else _sanitize(value, memo, depth + 1, mask))
        return new_dict
    if isinstance(data, list):
        new_list: list[Any] = []
        memo[id(data)] = new_list
        for item in data:
            new_list.append(_sanitize(item, memo, depth + 1, mask))
        return new_list
    if isinstance(data, tuple | set | frozenset):
        items = []
        for item in data:
            items.append(_sanitize(item, memo, depth + 1, mask))
        result: Any
        if isinstance(data, tuple) and hasattr(data, "_fields"):  # a namedtuple
            result = type(data)(*items)
        else:
            try:
                result = type(data)(items)
            except Exception:  # a subclass with another constructor: use the base type
                base = next(t for t in (tuple, frozenset, set) if isinstance(data, t))
                result = base(items)
        memo[id(data)] = result
        return result
    try:
        return copy.deepcopy(data)
    except Exception:  # an uncopyable object: it is not changed by logging it anyway
        return data


def sanitize(data: Any) -> Any:
    """Return a copy of ``data`` that is safe to log; ``data`` itself is never changed.

    In dicts at any depth (also inside lists and tuples), the value of a secret-looking key
    becomes :data:`SANITIZED`: keys containing ``password`` or ``secret``, keys equal to
    ``token``, ``auth_token`` or ``new_pass`` or ending in ``_token``, and all of these behind
    a ``_context_`` prefix. Every string (or bytes) value has its URL passwords masked.
    Containers nested deeper than :data:`MAX_DEPTH` become :data:`TOO_DEEP`.
    """
    return _sanitize(data, {}, 0, mask_url)


def _sanitize_for_log(data: Any) -> Any:
    """:func:`sanitize`, masking ``key=value`` secrets inside strings too (:func:`mask_text`):
    stricter, for data that only goes to a log line."""
    return _sanitize(data, {}, 0, mask_text)


def safe_log(log_func: Callable[..., object], msg: str, msg_data: Any) -> None:
    """Log ``msg`` with a sanitized copy of ``msg_data``, like the legacy ``_safe_log``."""
    log_func(msg, sanitize(msg_data))


def _shorten(text: str, limit: int, size: int, unit: str) -> str:
    """``text`` cut to ``limit`` characters, saying how large the whole was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({size} {unit})"


def safe_repr(data: Any, limit: int = 2000) -> str:
    """``str()`` of a sanitized copy of ``data``, cut to ``limit`` characters: a payload for a
    log line. Secret keys are sanitized, ``key=value`` secrets in strings and URL passwords
    masked (the latter also in reprs of other objects)."""
    try:
        text = mask_url(str(_sanitize_for_log(data)))
    except Exception:  # a __str__ that fails: logging must not
        return f"<unprintable {type(data).__name__}>"
    return _shorten(text, limit, len(text), "characters")


# Free text: a secret-looking key name, then ':' or '=' and a value, as in
#   (?i)["']?[\w.-]*(?:password|secret|token|new_pass)[\w.-]*["']?\s*[:=]\s*
#       ("(?:[^"\\]|\\.)*" | '[^']*' | [^\s,;}&]+)
# whose value is masked. Matched by hand from each keyword on (see mask_text): that regex
# backtracks over every start position of a long name-like run, in quadratic time.
_KEYWORD = re.compile(r"password|secret|token|new_pass", re.IGNORECASE)
_NAME_CHARS = re.compile(r"[\w.-]*")
_SPACES = re.compile(r"\s*")
_BARE_VALUE = re.compile(r"[^\s,;}&]*")
# The inside of a double-quoted value; always matches (so never backtracks), up to the
# closing quote, or a backslash before a newline or the end, where the value is unterminated.
_QUOTED_BODY = re.compile(r'(?:[^"\\]+|\\.)*')


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where ``pattern``, which also matches the empty string, ends when matched at ``pos``."""
    match = pattern.match(text, pos)
    return match.end() if match else pos


class _ValueScanner:
    """Finds where the value after ``key=`` ends, scanning each part of the text once.

    Values are looked for again inside masked values (``password: token: x``), so each scan
    remembers what it found for later starts inside its range: a double-quoted value scanned
    from ``q`` to ``s`` gives the same end from any opening quote in ``[q, s)`` (that quote is
    escaped, so the escape chain is the same); a single quote or a bare-value delimiter found
    from ``q`` is the next one from anywhere in between.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.double = (-1, -1, False)  # start, stop, and whether text[stop] closes the value
        self.single = (-1, -1)  # start, and the next "'" from there (-1: none)
        self.bare = (-1, -1)  # start, and the next delimiter from there

    def value_end(self, pos: int) -> int:
        """End of the value starting at ``pos`` (``pos`` itself if there is none)."""
        text = self.text
        if pos < len(text):
            end = None
            if text[pos] == '"':
                end = self._double(pos + 1)
            elif text[pos] == "'":
                end = self._single(pos + 1)
            if end is not None:
                return end
        first, stop = self.bare
        if not first <= pos <= stop:
            self.bare = (pos, _skip(_BARE_VALUE, text, pos))
        return self.bare[1]

    def _double(self, start: int) -> int | None:
        first, stop, closed = self.double
        if not first <= start <= stop:
            stop = _skip(_QUOTED_BODY, self.text, start)
            closed = stop < len(self.text) and self.text[stop] == '"'
            self.double = (start, stop, closed)
        return stop + 1 if closed else None

    def _single(self, start: int) -> int | None:
        first, close = self.single
        if not (0 <= first <= start and (close == -1 or start <= close)):
            close = self.text.find("'", start)
            self.single = (start, close)
        return close + 1 if close != -1 else None


def mask_text(text: str) -> str:
    """Mask URL passwords and ``key: value`` / ``key=value`` secrets in free text.

    Keys are names containing ``password``, ``secret``, ``token`` or ``new_pass`` (any case,
    possibly quoted); values are double-quoted (with escapes), single-quoted or bare up to
    whitespace or ``,;}&``. A value may hold further keys (``password: token: x``): their
    values are masked too. Linear time on any text.
    """
    text = mask_url(text)
    out: list[str] = []
    done = 0  # text[:done] is in out (masked where it had to be)
    pos = 0
    values = _ValueScanner(text)
    while (keyword := _KEYWORD.search(text, pos)) is not None:
        # Every keyword inside one name-like run shares its end: check the run once.
        name_end = _skip(_NAME_CHARS, text, keyword.end())
        pos = name_end
        i = name_end + 1 if text[name_end:name_end + 1] in ('"', "'") else name_end
        i = _skip(_SPACES, text, i)
        if text[i:i + 1] not in (":", "="):
            continue
        value_start = _skip(_SPACES, text, i + 1)
        value_end = values.value_end(value_start)
        if value_end == value_start:
            continue
        if value_start >= done:
            out.append(text[done:value_start])
            out.append(MASK)
            done = value_end
        elif value_end > done:  # overlaps the value masked last: extend that mask
            done = value_end
        pos = value_start  # keys inside the value
    out.append(text[done:])
    return "".join(out)


def _sanitize_json(text: str) -> str | None:
    """A JSON body sanitized structurally (with the text inside a 2.0 envelope), or None if
    ``text`` is not JSON (or nests deeper than a message may)."""
    try:
        decoded = _jsonutils.loads(text)
    except ValueError:
        return None
    if isinstance(decoded, dict) and isinstance(decoded.get("oslo.message"), str):
        try:
            inner = _jsonutils.loads(decoded["oslo.message"])
        except ValueError:
            inner = mask_text(decoded["oslo.message"])
        decoded = dict(decoded, **{"oslo.message": inner})
    return json.dumps(_sanitize_for_log(decoded), default=repr)


def sanitize_body(data: bytes | str, limit: int = 2000) -> str:
    """A printable, sanitized form of a received message body, for logging.

    Only the first ``max(limit, BODY_WINDOW)`` bytes (or characters) are looked at, so any
    body costs the same bounded work. A body within that window is sanitized structurally
    if it is JSON (including the JSON text inside a 2.0 envelope, and ``key=value`` secrets
    inside strings), else masked as text; the prefix of a larger one is masked as text. The
    result is cut to ``limit`` characters and then says the size of the whole body.
    """
    window = max(limit, BODY_WINDOW)
    size = len(data)
    head = data[:window]
    text = (bytes(head).decode("utf-8", "replace")
            if isinstance(head, bytes | bytearray | memoryview) else str(head))
    shown = _sanitize_json(text) if size <= window else None
    if shown is None:
        shown = mask_text(text)
    unit = "characters" if isinstance(data, str) else "bytes"
    if size > window:
        return f"{shown[:limit]}... ({size} {unit})"
    return _shorten(shown, limit, size, unit)
