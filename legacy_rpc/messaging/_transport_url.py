"""``TransportURL`` and ``TransportHost``: which driver to use and which brokers to reach.

Grammar: ``driver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query``,
parsed as ``oslo_messaging.TransportURL.parse`` does, except that the scheme is split off by
hand so that legacy backend names (``nova.openstack.common.rpc.impl_kombu://``) are accepted.

``str()`` gives the full URL, password included, because drivers need it; ``repr()``,
:meth:`TransportURL.masked` and every exception text of this module hide the passwords.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from oslo_config import cfg

from legacy_rpc.messaging._mask import MASK, mask_url
from legacy_rpc.messaging.exceptions import MessagingException

__all__ = ["InvalidTransportURL", "TransportHost", "TransportURL"]

LOG = logging.getLogger(__name__)

DEFAULT_URL = "rabbit://"
"""The URL used when neither the caller nor ``conf.transport_url`` gives one."""

# A URL scheme: as RFC 3986, plus '_' so that legacy module paths such as
# 'nova.openstack.common.rpc.impl_kombu' are accepted (urllib.parse rejects them).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-_]*")
_PORT = re.compile(r"[0-9]+")
_MAX_PORT = 65535


def _mask_text(text: str) -> str:
    """:func:`mask_url`, also for text without a scheme (``//u:p@h``, ``u:p@h``)."""
    if "://" in text:
        return mask_url(text)
    prefix = "//" if text.startswith("//") else ""
    return prefix + mask_url("_://" + text[len(prefix):])[len("_://"):]


def _masked_repr(url: object) -> str:
    """Render any URL-ish object for a message, with its passwords masked."""
    if isinstance(url, TransportURL):
        return repr(url.masked())
    if isinstance(url, str):
        return repr(_mask_text(url))
    return _mask_text(repr(url))


class InvalidTransportURL(MessagingException):
    """A transport URL could not be parsed.

    ``.url`` keeps the value as given; the message shows it with its passwords masked.
    """

    def __init__(self, url: object, msg: str) -> None:
        super().__init__(f"Invalid transport URL {_masked_repr(url)}: {msg}")
        self.url = url
        self.msg = msg


class TransportHost:
    """One broker address of a :class:`TransportURL`; hashable and compared by value."""

    def __init__(self, hostname: str | None = None, port: int | None = None,
                 username: str | None = None, password: str | None = None) -> None:
        self.hostname = hostname
        self.port = port
        self.username = username
        self.password = password

    def _key(self) -> tuple[str | None, int | None, str | None, str | None]:
        return (self.hostname, self.port, self.username, self.password)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransportHost):
            return NotImplemented
        return self._key() == other._key()

    def __repr__(self) -> str:
        password = None if self.password is None else MASK
        return (f"<TransportHost hostname={self.hostname}, port={self.port}, "
                f"username={self.username}, password={password}>")


def _split_scheme(url: str) -> tuple[str, str]:
    """Split ``url`` into its lower-cased scheme and the rest (after the ``:``)."""
    scheme, colon, rest = url.partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise InvalidTransportURL(url, "No scheme specified")
    return scheme.lower(), rest


def _split_rest(rest: str) -> tuple[str, str, str]:
    """Split what follows the scheme into (netloc, path, query); a fragment is dropped."""
    rest = rest.partition("#")[0]
    rest, _, query = rest.partition("?")
    if not rest.startswith("//"):
        return "", rest, query
    rest = rest[2:]
    slash = rest.find("/")
    if slash < 0:
        return rest, "", query
    return rest[:slash], rest[slash:], query


def _parse_port(url: str, text: str) -> int | None:
    """Turn the port text of a host element into an int (``None`` when empty)."""
    if not text:
        return None
    if not _PORT.fullmatch(text) or int(text) > _MAX_PORT:
        # The text may be a fragment of a badly quoted password: never show it.
        raise InvalidTransportURL(url, "Invalid port in host address")
    return int(text)


def _parse_host(url: str, element: str) -> TransportHost:
    """Parse one ``[user[:password]@]host[:port]`` element of the netloc."""
    username: str | None = None
    password: str | None = None
    address = element
    if "@" in element:
        creds, _, address = element.rpartition("@")
        user_text, colon, password_text = creds.partition(":")
        username = unquote(user_text)
        if colon:
            password = unquote(password_text)
    port_text = ""
    if address.startswith("["):
        close = address.find("]")
        if close < 0:
            raise InvalidTransportURL(url, "Invalid IPv6 address: missing ']'")
        host, after = address[1:close], address[close + 1:]
        if after and not after.startswith(":"):
            raise InvalidTransportURL(url, "Invalid text after an IPv6 address")
        port_text = after[1:]
    elif address.count(":") == 1:
        host, _, port_text = address.partition(":")
    else:  # no port, or a bare IPv6 address (which cannot carry a port)
        host = address
    return TransportHost(hostname=host or None, port=_parse_port(url, port_text),
                         username=username, password=password)


def _conf_transport_url(conf: Any) -> Any:
    """Read ``conf.transport_url``, or :data:`DEFAULT_URL` when unset or unregistered."""
    try:
        value = conf.transport_url
    except (cfg.NoSuchOptError, AttributeError):
        return DEFAULT_URL
    return DEFAULT_URL if value is None else value


class TransportURL:
    """A parsed transport URL: driver name, broker hosts, virtual host and driver options.

    ``transport`` is the whole scheme (e.g. ``kombu+memory``). ``query`` holds driver option
    overrides, one string per key. Equality and hashing use transport, virtual host and
    hosts, not the query.
    """

    def __init__(self, conf: Any, transport: str | None = None,
                 virtual_host: str | None = None,
                 hosts: Iterable[TransportHost] | None = None,
                 query: Mapping[str, str] | None = None) -> None:
        self.conf = conf
        self.transport = transport
        self.virtual_host = virtual_host
        self.hosts: list[TransportHost] = list(hosts) if hosts is not None else []
        self.query: dict[str, str] = dict(query) if query is not None else {}

    @classmethod
    def parse(cls, conf: Any, url: object = None) -> TransportURL:
        """Parse ``url`` (by default ``conf.transport_url``) into a :class:`TransportURL`.

        :raises InvalidTransportURL: not a string, no scheme, a bad port or IPv6 address.
        """
        if not url:
            url = _conf_transport_url(conf)
        if not isinstance(url, str):
            raise InvalidTransportURL(url, "Wrong URL type")
        url = url.strip()
        transport, rest = _split_scheme(url)
        netloc, path, query_text = _split_rest(rest)

        query = {key: ",".join(values) for key, values in parse_qs(query_text).items()}
        virtual_host = unquote(path[1:]) if path.startswith("/") else None
        hosts = [_parse_host(url, element) for element in netloc.split(",") if element]

        with_creds = sum(1 for h in hosts if h.username is not None or h.password is not None)
        if 0 < with_creds < len(hosts):
            LOG.warning("Transport URL %s gives credentials for some hosts only",
                        mask_url(url))
        return cls(conf, transport=transport, virtual_host=virtual_host, hosts=hosts,
                   query=query)

    def _render(self, mask: bool) -> str:
        """Build the URL text, with passwords as they are or masked."""
        netlocs = []
        for host in self.hosts:
            netloc = ""
            if host.username is not None or host.password is not None:
                netloc = quote(host.username or "", safe="")
                if host.password is not None:
                    netloc += ":" + (MASK if mask else quote(host.password, safe=""))
                netloc += "@"
            if host.hostname:
                netloc += f"[{host.hostname}]" if ":" in host.hostname else host.hostname
            if host.port is not None:
                netloc += f":{host.port}"
            netlocs.append(netloc)
        text = f"{self.transport}://{','.join(netlocs)}/"
        if self.virtual_host:
            text += quote(self.virtual_host)
        if self.query:
            text += "?" + urlencode(self.query)
        return text

    def masked(self) -> str:
        """The URL text with every password replaced by ``****``: safe to log."""
        return self._render(mask=True)

    def as_uri(self, include_password: bool = False) -> str:
        """The URL text; the real passwords only when asked for (drivers need them).

        ``str()`` and ``repr()`` are masked, unlike oslo.messaging whose ``str()`` shows
        the password: a URL that reaches a log line or an exception stays safe.
        """
        return self._render(mask=not include_password)

    def __str__(self) -> str:
        return self._render(mask=True)

    def __repr__(self) -> str:
        return self.masked()

    def _key(self) -> tuple[str | None, str | None, tuple[TransportHost, ...]]:
        return (self.transport, self.virtual_host, tuple(self.hosts))

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransportURL):
            return NotImplemented
        return self._key() == other._key()
