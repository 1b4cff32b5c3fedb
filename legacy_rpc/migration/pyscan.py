"""Legacy rpc/notifier usage in one Python source.

Imports and strings naming legacy modules come from the drop-in plan (:mod:`.plan`), so
scan reports exactly what ``migrate`` changes, as fixable findings. Use sites (calls,
``RpcProxy`` classes, consumers) are found with :mod:`ast` in Python 3 source, and from
tokens in Python 2 source. Names are resolved through the module's imports, so
``rpc.call`` counts only when ``rpc`` is a legacy (or drop-in ``legacy_rpc``) rpc module,
whatever it is called locally.
"""

from __future__ import annotations

import ast

from legacy_rpc.migration import imports, names
from legacy_rpc.migration.findings import Finding
from legacy_rpc.migration.lexer import Token
from legacy_rpc.migration.plan import Plan, plan_source
from legacy_rpc.migration.resolve import Resolve, by_name
from legacy_rpc.migration.rewriter import python_version

__all__ = ["scan_source", "scan_python", "ADVICE"]

ADVICE: dict[str, tuple[str, str]] = {
    "rpc.call": ("rpc-call", "RPCClient(transport, Target(topic=...)).call(ctxt, method, **args)"),
    "rpc.multicall": ("rpc-call", "client.stream(ctxt, method, **args)"),
    "rpc.cast": ("rpc-call", "client.cast(ctxt, method, **args)"),
    "rpc.fanout_cast": ("rpc-call", "client.prepare(fanout=True).cast(ctxt, method, **args)"),
    "rpc.cast_to_server": ("rpc-call", "client.cast(...) on a transport made from that "
                                       "broker's transport URL"),
    "rpc.fanout_cast_to_server": ("rpc-call", "client.prepare(fanout=True).cast(...) on a "
                                              "transport made from that broker's URL"),
    "rpc.notify": ("rpc-call", "Notifier(get_notification_transport(conf), publisher_id)"
                               ".info(ctxt, event_type, payload)"),
    "rpc.queue_get_for": ("rpc-call", "client.prepare(server=host)"),
    "rpc.create_connection": ("consumer", "get_rpc_server(transport, Target(topic, server), "
                                          "endpoints) (see create_consumer)"),
    "rpc.proxy.RpcProxy": ("rpc-proxy", "RPCClient(transport, Target(topic=..., "
                                        "version=...), version_cap=...)"),
    "rpc.dispatcher.RpcDispatcher": ("dispatcher", "the endpoints list of get_rpc_server; each "
                                                   "endpoint has target = Target(version=...)"),
    "rpc.service.Service": ("service", "get_rpc_server(transport, Target(topic=topic, "
                                       "server=host), [manager]).start()"),
    "notifier.api.notify": ("notifier", "Notifier(get_notification_transport(conf), "
                                        "publisher_id).info(ctxt, event_type, payload)"),
    "notifier.api.notify_decorator": ("notifier", "call Notifier.info(...) in the function"),
}
"""Legacy name (see :func:`names.canonical`) -> (finding kind, new-style equivalent)."""

_CONSUMER_METHODS = {
    "create_consumer": "get_rpc_server(transport, Target(topic, server), endpoints); "
                       "fanout=True consumers are part of every RPC server",
    "create_worker": "get_rpc_server(...) (servers of one topic share its queue)",
    "join_consumer_pool": "get_notification_listener(transport, targets, endpoints, "
                          "pool=pool_name)",
    "consume_in_thread": "server.start() (executor='threading')",
}


def _line(lines: list[str], lineno: int) -> str:
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


class _Uses:
    """Use sites, given the bindings of the module's imports."""

    def __init__(self, lines: list[str], resolve: Resolve) -> None:
        self.lines = lines
        self.resolve = resolve
        self.bindings: dict[str, str] = {}
        self.findings: list[Finding] = []

    def bind(self, plan: Plan) -> None:
        for stmt in plan.statements:
            for alias in stmt.aliases:
                if stmt.is_from and not stmt.level and alias.name != "*":
                    self.bindings[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
                elif not stmt.is_from:
                    head = alias.name.split(".")[0]
                    self.bindings[alias.asname or head] = alias.name if alias.asname else head

    def add(self, line: int, col: int, kind: str, advice: str) -> None:
        self.findings.append(Finding(line, col, kind, _line(self.lines, line), advice))

    def legacy(self, dotted: str | None) -> str | None:
        """``rpc.call`` for a dotted name under a legacy (or drop-in) package."""
        if not dotted:
            return None
        if dotted.startswith("legacy_rpc."):
            return names.canonical(dotted)
        dropin = self.resolve(dotted).dropin
        return dropin[len("legacy_rpc."):] if dropin else None

    def resolved(self, parts: list[str]) -> str | None:
        base = self.bindings.get(parts[0])
        return ".".join([base, *parts[1:]]) if base else None

    # Python 3: ast -------------------------------------------------------------------
    def dotted(self, node: ast.expr) -> list[str] | None:
        if isinstance(node, ast.Name):
            return [node.id]
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return [*base, node.attr] if base else None
        return None

    def check_node(self, node: ast.AST) -> None:
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                legacy = self.legacy(self.resolved(self.dotted(base) or [""]))
                if legacy in ADVICE:
                    kind, advice = ADVICE[legacy]
                    self.add(node.lineno, node.col_offset + 1, kind,
                             f"class {node.name}: {advice}")
        elif isinstance(node, ast.Call):
            legacy = self.legacy(self.resolved(self.dotted(node.func) or [""]))
            func = node.func
            if legacy in ADVICE:
                kind, advice = ADVICE[legacy]
                self.add(node.lineno, node.col_offset + 1, kind, advice)
            elif isinstance(func, ast.Attribute) and func.attr in _CONSUMER_METHODS:
                self.add(node.lineno, node.col_offset + 1, "consumer",
                         _CONSUMER_METHODS[func.attr])

    # Python 2: tokens ----------------------------------------------------------------
    def check_chain(self, chain: list[Token], after: Token | None) -> None:
        parts = [t.text for t in chain]
        legacy = self.legacy(self.resolved(parts))
        start = chain[0]
        if legacy in ADVICE:
            kind, advice = ADVICE[legacy]
            self.add(start.line, start.col, kind, advice)
        elif (len(parts) > 1 and parts[-1] in _CONSUMER_METHODS and after is not None
              and after.text == "("):
            self.add(start.line, start.col, "consumer", _CONSUMER_METHODS[parts[-1]])


def scan_python(source: str, filename: str = "<source>",
                resolve: Resolve = by_name) -> tuple[list[Finding], str | None]:
    """Findings in ``source`` by line, and why it is Python 2 (None for Python 3).

    :raises SyntaxError: it is neither Python 3 nor recognisably Python 2 source.
    """
    python2 = python_version(source, filename)
    plan = plan_source(source, resolve)
    lines = source.splitlines()
    findings = [Finding(i.line, i.col, i.kind, i.code, i.advice, i.fixable)
                for i in plan.items]
    uses = _Uses(lines, resolve)
    uses.bind(plan)
    if python2 is None:
        for node in ast.walk(ast.parse(source, filename=filename)):
            uses.check_node(node)
    else:
        for chain, after in imports.chains(plan.code, plan.import_tokens):
            uses.check_chain(chain, after)
    findings += uses.findings
    return sorted(findings, key=lambda f: (f.line, f.col)), python2


def scan_source(source: str, filename: str = "<source>",
                resolve: Resolve = by_name) -> list[Finding]:
    """Findings in ``source``, by line. :raises SyntaxError: it does not parse."""
    return scan_python(source, filename, resolve)[0]
