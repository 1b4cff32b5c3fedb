"""The drop-in step of one source, planned from its tokens: what changes and why.

One plan serves both tools: ``migrate`` applies its edits and ``scan`` reports them as
fixable findings, so after ``migrate --write`` a scan finds nothing left to fix. It works
on Python 2 and Python 3 source alike. What changes:

- legacy import statements, to the ``legacy_rpc`` drop-ins;
- for ``import x.openstack.common.rpc.proxy`` (no ``as``), also every dotted reference
  through it (``x.openstack.common.rpc.proxy.RpcProxy``);
- string literals that are exactly a legacy module path (``mock.patch`` targets,
  ``importutils.try_import``, ``CONF.import_opt``).

Whether a name is legacy is the resolver's call (:mod:`.resolve`); names it is unsure of
are listed for a person to decide, never changed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from legacy_rpc.migration import imports, lexer
from legacy_rpc.migration.imports import Alias, ImportStmt
from legacy_rpc.migration.lexer import NEWLINE, Token
from legacy_rpc.migration.resolve import Resolve, by_name

__all__ = ["Edit", "Item", "Plan", "plan_source", "apply_plan"]

_PARENS = re.compile(r"\([^()]*\)", re.DOTALL)


@dataclass(frozen=True)
class Edit:
    """Replace ``start:end`` of the source with ``new``."""

    start: int
    end: int
    new: str


@dataclass
class Item:
    """One change (``edits``) or one thing to change by hand (no edits), as reported."""

    line: int
    col: int
    kind: str
    code: str
    advice: str
    edits: list[Edit] = field(default_factory=list)

    @property
    def fixable(self) -> bool:
        return bool(self.edits)


@dataclass
class Plan:
    """The items of a source in order; its code tokens (comments left out), its import
    statements and the indexes of their tokens in ``code``."""

    items: list[Item]
    code: list[Token]
    statements: list[ImportStmt]
    import_tokens: set[int]

    @property
    def edits(self) -> list[Edit]:
        return [edit for item in self.items for edit in item.edits]


def _apply(text: str, edits: list[Edit], start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` with the edits inside it applied."""
    end = len(text) if end is None else end
    out, pos = [], start
    for edit in sorted(edits, key=lambda e: e.start):
        if start <= edit.start and edit.end <= end:
            out += [text[pos:edit.start], edit.new]
            pos = edit.end
    out.append(text[pos:end])
    return "".join(out)


class _Planner:
    def __init__(self, text: str, resolve: Resolve) -> None:
        self.text = text
        self.resolve = resolve
        self.tokens = lexer.tokenize(text)
        self.code = imports.code_tokens(self.tokens)
        self.lines = text.splitlines()
        self.items: list[Item] = []
        self.stmts: list[ImportStmt] = []
        self.skip: set[int] = set()
        index = {id(t): i for i, t in enumerate(self.code)}
        for tokens in imports.statements(self.code):
            stmt = imports.parse_import(tokens)
            if stmt is not None:
                self.stmts.append(stmt)
                self.skip.update(index[id(t)] for t in tokens)

    def code_line(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""

    def add(self, token: Token, kind: str, advice: str, edits: list[Edit]) -> Item:
        item = Item(token.line, token.col, kind, self.code_line(token.line), advice, edits)
        self.items.append(item)
        return item

    def manual(self, token: Token, note: str) -> None:
        self.add(token, "legacy-import", note + " (not done automatically)", [])

    # import statements ---------------------------------------------------------------
    def plan_import(self, stmt: ImportStmt,
                    plain: dict[str, list[tuple[Alias, Edit, Item]]]) -> None:
        item = Item(stmt.tokens[0].line, stmt.tokens[0].col, "legacy-import",
                    self.code_line(stmt.tokens[0].line), "")
        for alias in stmt.aliases:
            verdict = self.resolve(alias.name)
            if verdict.dropin is None:
                if verdict.note:
                    self.manual(stmt.tokens[0], verdict.note)
                continue
            edit = Edit(alias.start, alias.end, verdict.dropin)
            item.edits.append(edit)
            if alias.asname is None:
                plain[alias.name.split(".")[0]].append((alias, edit, item))
        if item.edits:
            self.items.append(item)

    def plan_from(self, stmt: ImportStmt) -> None:
        if stmt.level:
            return
        first = stmt.tokens[0]
        verdict = self.resolve(stmt.module)
        if verdict.dropin is not None:
            self.add(first, "legacy-import", "",
                     [Edit(*stmt.module_span, verdict.dropin)])
            return
        if verdict.note:
            self.manual(first, verdict.note)
            return
        groups: dict[str, list[str]] = defaultdict(list)
        renamed = False
        for alias in stmt.aliases:
            own = f"{alias.name} as {alias.asname}" if alias.asname else alias.name
            moved = self.resolve(f"{stmt.module}.{alias.name}") if alias.name != "*" else None
            if moved is None or moved.dropin is None:
                if moved is not None and moved.note:
                    self.manual(first, moved.note)
                groups[stmt.module].append(own)
                continue
            parent, _, leaf = moved.dropin.rpartition(".")
            renamed |= leaf != alias.name
            groups[parent].append(own if leaf == alias.name
                                  else f"{leaf} as {alias.asname or alias.name}")
        if list(groups) == [stmt.module]:
            return
        if len(groups) == 1 and not renamed:  # keeps the statement's layout
            self.add(first, "legacy-import", "", [Edit(*stmt.module_span, next(iter(groups)))])
            return
        self.add(first, "legacy-import", "",
                 [Edit(stmt.start, stmt.end, self.separator(stmt).join(
                     f"from {parent} import {', '.join(items)}"
                     for parent, items in groups.items()))])

    def separator(self, stmt: ImportStmt) -> str:
        """Between statements replacing ``stmt``: a line end and its indent, or ``; ``."""
        start = self.text.rfind("\n", 0, stmt.start) + 1
        start = max(start, self.text.rfind("\r", 0, stmt.start) + 1)
        indent = self.text[start:stmt.start]
        if indent.strip():
            return "; "
        after = next((t for t in self.tokens if t.start >= stmt.end and t.kind == NEWLINE),
                     None)
        return (after.text if after is not None else "\n") + indent

    # dotted references of plain imports ----------------------------------------------
    def plan_references(self, plain: dict[str, list[tuple[Alias, Edit, Item]]]) -> None:
        """Rewrite ``head.legacy.path.X`` through each rewritten ``import head.legacy...``;
        keep ``head`` bound when the file still uses it and no other import binds it."""
        refs: dict[str, list[Edit]] = defaultdict(list)
        head_used: set[str] = set()
        for chain, _after in imports.chains(self.code, self.skip):
            head = chain[0].text
            if head not in plain:
                continue
            verdict = self.resolve(".".join(t.text for t in chain)) if len(chain) > 1 else None
            if verdict is None or verdict.dropin is None:
                head_used.add(head)
            else:
                refs[head].append(Edit(chain[0].start, chain[-1].end, verdict.dropin))
        for head, entries in plain.items():
            rewritten = {id(alias) for alias, _, _ in entries}
            _, edit, item = entries[0]
            if head in head_used and not self._bound_by_other(head, rewritten):
                item.edits[item.edits.index(edit)] = Edit(edit.start, edit.end,
                                                          f"{head}, {edit.new}")
            _, edit, item = entries[-1]
            item.edits.extend(refs[head])
            if refs[head]:
                item.advice = (f"and {len(refs[head])} dotted reference(s) through "
                               f"'{head}' to the legacy modules")

    def _bound_by_other(self, head: str, rewritten: set[int]) -> bool:
        """Whether an import other than the rewritten plain ones binds ``head``."""
        return any(head in stmt.binds_except(rewritten) for stmt in self.stmts)

    # strings -------------------------------------------------------------------------
    def plan_strings(self) -> None:
        for token, value, called in imports.module_strings(self.code):
            verdict = self.resolve(value)
            if verdict.dropin is None or verdict.dropin == value:
                if verdict.note:
                    self.add(token, "legacy-string", verdict.note + " (not done "
                             "automatically)", [])
                continue
            start, end = token.body
            kind = "import-opt" if called in ("import_opt", "import_group") else \
                "legacy-string"
            self.add(token, kind, f"'{verdict.dropin}'", [Edit(start, end, verdict.dropin)])

    def run(self) -> Plan:
        plain: dict[str, list[tuple[Alias, Edit, Item]]] = defaultdict(list)
        for stmt in self.stmts:
            if stmt.is_from:
                self.plan_from(stmt)
            else:
                self.plan_import(stmt, plain)
        self.plan_references(plain)
        for item in self.items:  # an import's advice: the statement as it will read
            if item.kind == "legacy-import" and item.edits:
                stmt = next(s for s in self.stmts if s.start <= item.edits[0].start < s.end)
                new = _PARENS.sub(lambda m: " ".join(m.group().split()).replace(
                    "( ", "(").replace(" )", ")"),
                    _apply(self.text, item.edits, stmt.start, stmt.end))
                new = "; ".join(line.strip() for line in new.splitlines())
                item.advice = new + (f"; {item.advice}" if item.advice else "")
        self.plan_strings()
        self.items.sort(key=lambda i: (i.line, i.col))
        return Plan(self.items, self.code, self.stmts, self.skip)


def plan_source(text: str, resolve: Resolve = by_name) -> Plan:
    """The drop-in plan of ``text``. Never raises on odd source."""
    return _Planner(text, resolve).run()


def apply_plan(text: str, plan: Plan) -> str:
    """``text`` with every edit of ``plan`` applied."""
    return _apply(text, plan.edits)
