"""Generated source through the token-level lexer and the drop-in plan.

The tools read arbitrary files (Python 2, Python 3, broken), so: the lexer and the plan
never crash; edits touch only import lines, dotted references and string literals that are
exactly a legacy module path, never a comment or any other string; applying the plan is
idempotent and converges (a second plan has nothing left to fix).
"""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from legacy_rpc.migration import lexer
from legacy_rpc.migration.imports import DOTTED
from legacy_rpc.migration.plan import apply_plan, plan_source
from legacy_rpc.migration.rewriter import python_version

FRAGMENTS = [
    "from nova.openstack.common import rpc",
    "from nova.openstack.common import jsonutils, rpc as r, log",
    "from acme.openstack.common.rpc import (common,\n    proxy,)",
    "from acme.openstack.common.notifier import api as notifier_api  # publishes",
    "from nova import exception, rpc",
    "from . import rpc",
    "from .openstack.common import rpc",
    "import nova.openstack.common.rpc.proxy",
    "import os, nova.rpc, acme.openstack.common.notifier.api as n",
    "import nova.rpc as nova_rpc",
    "class A(nova.openstack.common.rpc.proxy.RpcProxy):",
    "nova.rpc.cast(ctxt, 'topic', {'method': 'x'})",
    "x = nova.exception.NotFound",
    "self.nova.openstack.common.rpc.call()",
    "@mock.patch('nova.openstack.common.rpc.cast')",
    "CONF.import_opt('topics', \"acme.openstack.common.notifier.rpc_notifier\")",
    "importutils.try_import(u'nova.openstack.common.rpc.impl_kombu')",
    "s = 'see nova.openstack.common.rpc.cast for details'",
    "s = '''nova.openstack.common.rpc'''",
    "s = b'nova.openstack.common.rpc'",
    "s = f'nova.openstack.common.rpc'",
    "s = ur'nova.rpc.call'",
    "s = 'nova.openstack.common.rpc",
    "s = \"\"\"unterminated nova.rpc",
    "# from nova.openstack.common import rpc",
    "x = 1  # import nova.rpc; 'nova.rpc.cast'",
    "print 'hello %s' % nova.rpc",
    "except rpc.common.Timeout, e:",
    "try: import nova.openstack.common.rpc.common as c",
    "if x: from nova import rpc",
    "x = `y` <> 0777L",
    "def f(nova):",
    "nova = None",
    "import",
    "from import x",
    "from nova.openstack.common import",
    "(",
    ")",
    "\\",
    "'",
]

SEPARATORS = ["\n", "\r\n", "\r", "; ", " ", "\n    ", "\\\n", "\t", ""]

sources = st.lists(
    st.tuples(st.one_of(st.sampled_from(FRAGMENTS),
                        st.text(alphabet="abn.()[]{}'\"#\\:;, \t\n\r_0uUrRbB`<>é\x00",
                                max_size=12)),
              st.sampled_from(SEPARATORS)),
    max_size=14).map(lambda parts: "".join(text + sep for text, sep in parts))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_lexer_never_crashes_and_covers_the_text(text: str) -> None:
    tokens = lexer.tokenize(text)
    position = 0
    for token in tokens:
        assert position <= token.start < token.end <= len(text)
        assert token.text == text[token.start:token.end]
        position = token.end


def _protected(text: str) -> list[tuple[int, int, tuple[int, int] | None]]:
    """Spans no edit may touch: comments, and strings (but for the exact body of a plain,
    one-quote string that is a dotted path: no bytes, f-strings or docstrings)."""
    spans: list[tuple[int, int, tuple[int, int] | None]] = []
    for token in lexer.tokenize(text):
        if token.kind == lexer.COMMENT:
            spans.append((token.start, token.end, None))
        elif token.kind == lexer.STRING:
            start, end = token.body
            plain = token.prefix.lower() in ("", "u", "r") and len(token.quote) == 1
            allowed = (start, end) if plain and DOTTED.fullmatch(text[start:end]) else None
            spans.append((token.start, token.end, allowed))
    return spans


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources)
def test_plan_edits_only_code_and_module_path_strings(text: str) -> None:
    plan = plan_source(text)
    edits = sorted(plan.edits, key=lambda e: e.start)
    for before, after in itertools.pairwise(edits):
        assert before.end <= after.start, "overlapping edits"
    for edit in edits:
        assert "legacy_rpc" in edit.new and "legacy_rpc" not in text[edit.start:edit.end]
        for start, end, allowed in _protected(text):
            if edit.start < end and start < edit.end:
                assert (edit.start, edit.end) == allowed, (edit, text[start:end])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources)
def test_plan_converges_and_is_idempotent(text: str) -> None:
    once = apply_plan(text, plan_source(text))
    second = plan_source(once)
    assert [item for item in second.items if item.fixable] == []
    assert apply_plan(once, second) == once


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources)
def test_python_version_raises_only_syntax_errors(text: str) -> None:
    with contextlib.suppress(SyntaxError):
        python_version(text)
