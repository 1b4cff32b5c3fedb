"""Legacy rpc/notifier usage in one Python source, found with :mod:`ast`.

Names are resolved through the module's imports, so ``rpc.call`` counts only when ``rpc``
is a legacy (or drop-in ``legacy_rpc``) rpc module, whatever it is called locally.
"""

from __future__ import annotations

import ast

from legacy_rpc.migration import names
from legacy_rpc.migration.findings import Finding

__all__ = ["scan_source", "ADVICE"]

_GUIDE = "migration_guide/call_mapping.md"

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


class _Visitor(ast.NodeVisitor):
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.bindings: dict[str, str] = {}
        self.findings: list[Finding] = []

    def add(self, node: ast.AST, kind: str, advice: str, fixable: bool = False) -> None:
        lineno, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        self.findings.append(Finding(lineno, col + 1, kind, _line(self.lines, lineno),
                                     advice, fixable))

    def resolve(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return self.bindings.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    # imports -------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.bindings[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.bindings[head] = head
            dropin = names.dropin_module(alias.name)
            if dropin is None:
                continue
            if alias.asname:
                self.add(node, "legacy-import", f"import {dropin} as {alias.asname}", True)
            else:
                self.add(node, "legacy-import",
                         f"import {dropin} as <name>, then use that name in place of "
                         f"{alias.name} (not done automatically)")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            if node.level == 0:
                self.bindings[alias.asname or alias.name] = f"{module}.{alias.name}"
        if node.level:
            return
        dropin = names.dropin_module(module)
        if dropin is not None:
            imported = ", ".join(f"{a.name} as {a.asname}" if a.asname else a.name
                                 for a in node.names)
            self.add(node, "legacy-import", f"from {dropin} import {imported}", True)
            return
        if names.LEGACY_PARENTS.match(module):
            moved = [(str(names.dropin_module(f"{module}.{a.name}")), a) for a in node.names
                     if names.dropin_module(f"{module}.{a.name}")]
            if moved:
                advice = "; ".join(f"from {dropin.rpartition('.')[0]} import {a.name}"
                                   + (f" as {a.asname}" if a.asname else "")
                                   for dropin, a in moved)
                self.add(node, "legacy-import", advice, True)

    # uses ----------------------------------------------------------------------------
    def check_class(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            legacy = names.canonical(self.resolve(base) or "")
            if legacy in ADVICE:
                kind, advice = ADVICE[legacy]
                self.add(node, kind, f"class {node.name}: {advice}")

    def check_call(self, node: ast.Call) -> None:
        legacy = names.canonical(self.resolve(node.func) or "")
        func = node.func
        if legacy in ADVICE:
            kind, advice = ADVICE[legacy]
            self.add(node, kind, advice)
        elif isinstance(func, ast.Attribute) and func.attr in _CONSUMER_METHODS:
            self.add(node, "consumer", _CONSUMER_METHODS[func.attr])
        elif isinstance(func, ast.Attribute) and func.attr in ("import_opt", "import_group"):
            self._import_opt(node)

    def _import_opt(self, node: ast.Call) -> None:
        if len(node.args) < 2:
            return
        arg = node.args[1]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            dropin = names.dropin_module(arg.value)
            if dropin is not None:
                self.add(node, "import-opt", f"'{dropin}'", True)


def scan_source(source: str, filename: str = "<source>") -> list[Finding]:
    """Findings in ``source``, by line. :raises SyntaxError: it does not parse."""
    tree = ast.parse(source, filename=filename)
    visitor = _Visitor(source.splitlines())
    nodes = list(ast.walk(tree))
    for node in nodes:  # bindings first: imports anywhere in the module
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            visitor.visit(node)
    for node in nodes:
        if isinstance(node, ast.ClassDef):
            visitor.check_class(node)
        elif isinstance(node, ast.Call):
            visitor.check_call(node)
    return sorted(visitor.findings, key=lambda f: (f.line, f.col))
