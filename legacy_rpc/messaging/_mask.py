"""Secret masking for log lines, reprs and exception texts.

Passwords must never reach a log line, a ``repr()`` or an exception message. Two tools do
it: :func:`mask_url` hides the password of every ``scheme://user:password@host`` found in a
piece of text, and :func:`sanitize` makes a masked deep copy of message data following the
legacy ``_safe_log`` rules (extended: more secret-looking keys, nested lists, URLs in values).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["MASK", "SANITIZED", "mask_url", "sanitize", "safe_log"]

MASK = "****"
"""What a password inside a URL is replaced with."""

SANITIZED = "<SANITIZED>"
"""What the value of a secret key is replaced with (the legacy ``_safe_log`` marker)."""

# Start of a URL's authority; the scheme itself does not matter for masking.
_AUTHORITY_START = re.compile(r"://")
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
    groups: list[str] = []
    i = 0
    while i < len(elements):
        element = elements[i]
        if "@" not in element and _suspicious_plain_host(element):
            nxt = next((k for k in range(i + 1, len(elements)) if "@" in elements[k]), None)
            if nxt is not None:
                element = ",".join(elements[i:nxt + 1])
                i = nxt
        groups.append(element)
        i += 1
    return groups


def _mask_token(token: str) -> str:
    """Mask the credentials at the start of ``token``, the text following ``://``."""
    match = _AUTHORITY_END.search(token)
    end = match.start() if match else len(token)
    groups = _group_elements(token[:end])
    last_at = token.rfind("@")
    if last_at >= end and any("@" not in g and _suspicious_plain_host(g) for g in groups):
        # A password with an unquoted '/', '?' or '#' cut the authority short: extend it to
        # the host after the last '@' so that no fragment of the password survives.
        match = _AUTHORITY_END.search(token, last_at)
        end = match.start() if match else len(token)
        groups = _group_elements(token[:end])
    # The rest (path, query) may hold further URLs, e.g. in a query value.
    return ",".join(_mask_element(g) for g in groups) + mask_url(token[end:])


def mask_url(text: str) -> str:
    """Return ``text`` with the password of every ``scheme://user:password@host`` masked.

    Works on free text holding any number of URLs, each with any number of comma-separated
    hosts; everything but the passwords is left as it was.
    """
    if "://" not in text:
        return text
    out: list[str] = []
    pos = 0
    for match in _AUTHORITY_START.finditer(text):
        start = match.end()
        if start < pos:  # inside a token already masked (with its nested URLs)
            continue
        end_match = _URL_END.search(text, start)
        end = end_match.start() if end_match else len(text)
        out.append(text[pos:start])
        out.append(_mask_token(text[start:end]))
        pos = end
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


def _mask_bytes(data: bytes) -> bytes:
    """Mask URL passwords in bytes, returning the input itself when nothing changed."""
    text = data.decode("utf-8", errors="replace")
    masked = mask_url(text)
    return data if masked == text else masked.encode("utf-8")


def _sanitize(data: Any, memo: dict[int, Any]) -> Any:
    """Recursive worker of :func:`sanitize`; ``memo`` maps input ids to their copies."""
    if isinstance(data, str):
        return mask_url(data)
    if isinstance(data, bytes):
        return _mask_bytes(data)
    if id(data) in memo:
        return memo[id(data)]
    if isinstance(data, dict):
        # copy.copy keeps the mapping type (OrderedDict, defaultdict, ...) with its items.
        new_dict = copy.copy(data)
        memo[id(data)] = new_dict
        for key, value in data.items():
            new_dict[key] = SANITIZED if _is_secret_key(key) else _sanitize(value, memo)
        return new_dict
    if isinstance(data, list):
        new_list: list[Any] = []
        memo[id(data)] = new_list
        new_list.extend(_sanitize(item, memo) for item in data)
        return new_list
    if isinstance(data, tuple | set | frozenset):
        items = [_sanitize(item, memo) for item in data]
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
    """
    return _sanitize(data, {})


def safe_log(log_func: Callable[..., object], msg: str, msg_data: Any) -> None:
    """Log ``msg`` with a sanitized copy of ``msg_data``, like the legacy ``_safe_log``."""
    log_func(msg, sanitize(msg_data))


# A "secret-looking key, then a value" pattern, for text that is not valid JSON.
_KEY_VALUE = re.compile(
    r"""(?ix)
    ( ["']?[\w.-]*(?:password|secret|token|new_pass)[\w.-]*["']? \s* [:=] \s* )
    ( "(?:[^"\\]|\\.)*" | '[^']*' | [^\s,;}&]+ )
    """)


def mask_text(text: str) -> str:
    """Mask URL passwords and ``key: value`` / ``key=value`` secrets in free text."""
    return _KEY_VALUE.sub(lambda m: f"{m.group(1)}{MASK}", mask_url(text))


def sanitize_body(data: bytes | str, limit: int = 2000) -> str:
    """A printable, sanitized form of a received message body, for logging.

    JSON bodies are sanitized structurally (including the JSON text inside a 2.0 envelope);
    anything else is masked as text. The result is cut to ``limit`` characters.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        decoded = json.loads(text)
    except ValueError:
        shown = mask_text(text)
    else:
        if isinstance(decoded, dict) and isinstance(decoded.get("oslo.message"), str):
            try:
                decoded = dict(decoded, **{"oslo.message": json.loads(decoded["oslo.message"])})
            except ValueError:
                decoded = dict(decoded, **{"oslo.message": mask_text(decoded["oslo.message"])})
        shown = json.dumps(sanitize(decoded), default=repr)
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(shown)} characters)"
