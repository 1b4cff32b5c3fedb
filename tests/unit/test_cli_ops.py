"""The pure parts of the operator commands: ``key=value`` arguments, the legacy message
dict, the grouping of queues by oslo.messaging's names, option checks with their exit
status, the mapping of core errors to exit statuses, and the scan progress line."""

from __future__ import annotations

import io
import json
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legacy_rpc.cli import _ops, main
from legacy_rpc.cli.call import legacy_message
from legacy_rpc.cli.scan import Progress
from legacy_rpc.cli.status import (
    Overview,
    Queue,
    _api_base,
    default_api_url,
    format_overview,
    group_queues,
)
from legacy_rpc.messaging._transport_url import InvalidTransportURL, TransportURL
from legacy_rpc.messaging.drivers.registry import DriverLoadFailure
from legacy_rpc.messaging.exceptions import (
    MessageDeliveryFailure,
    MessagingTimeout,
    RemoteError,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8)
KEYS = st.text(min_size=1).filter(lambda k: "=" not in k and k == k.strip())


# ------------------------------------------------------------------ key=value


@given(KEYS, JSON)
def test_a_json_value_comes_back_as_itself(key: str, value: Any) -> None:
    assert _ops.parse_pairs([f"{key}={json.dumps(value)}"]) == {key: value}


@given(st.text())
def test_text_that_is_not_json_stays_a_string(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        expected = text
    assert repr(_ops.parse_value(text)) == repr(expected)  # repr: NaN is not == NaN


@given(st.lists(st.text(), max_size=5))
def test_hostile_arguments_give_a_dict_or_a_usage_error(pairs: list[str]) -> None:
    try:
        result = _ops.parse_pairs(pairs)
    except _ops.OpsError as exc:
        assert exc.code == _ops.USAGE
        assert str(exc).startswith("argument ")
    else:
        assert len(result) == len(pairs)
        assert all(isinstance(k, str) and k for k in result)


def test_examples_of_values() -> None:
    assert _ops.parse_pairs(["n=3", "f=1.5", "t=true", "s=\"3\"", "w=hello", "e=", "l=[1]",
                             "x=a=b"]) == {"n": 3, "f": 1.5, "t": True, "s": "3",
                                           "w": "hello", "e": "", "l": [1], "x": "a=b"}


@pytest.mark.parametrize(("pairs", "text"), [
    (["novalue"], "is not key=value"),
    (["=1"], "empty or padded key"),
    ([" a=1"], "empty or padded key"),
    (["a=1", "a=2"], "given twice"),
])
def test_bad_arguments_are_usage_errors(pairs: list[str], text: str) -> None:
    with pytest.raises(_ops.OpsError, match=text) as caught:
        _ops.parse_pairs(pairs)
    assert caught.value.code == _ops.USAGE


def test_the_legacy_message_dict() -> None:
    assert legacy_message("m", {"a": 1}, None, None) == {"method": "m", "args": {"a": 1}}
    assert legacy_message("m", {}, "1.2", "ns") == {"method": "m", "args": {},
                                                     "version": "1.2", "namespace": "ns"}


# ------------------------------------------------------------------ options


@pytest.mark.parametrize("argv", [
    ["ping", "t", "--count", "0"],
    ["ping", "t", "--timeout", "0"],
    ["ping", "t", "--timeout", "-1"],
    ["ping", "t", "--timeout", "nan"],
    ["ping", "t", "--timeout", "inf"],
    ["ping", "t", "--interval", "-1"],
    ["call", "t", "m", "--timeout", "0"],
    ["call", "t", "m", "novalue"],
    ["call", "t", "m", "a=1", "a=2"],
    ["cast", "t", "m", "--fanout", "--server", "s1"],
    ["call", "t"],  # no METHOD (argparse)
    ["call", "t", "m", "--fanout"],  # calls have no --fanout (argparse)
    ["status", "--timeout", "-5"],
    ["status", "--url", "amqp1://"],
    ["ping", "t", "--url", "rabbit://u:p@h:notaport/"],
    ["call", "t", "m", "--url", "nosuchdriver://"],
])
def test_usage_and_config_errors_exit_2_with_one_line(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error:" in captured.err.splitlines()[-1]
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("command", ["ping", "call", "cast", "status"])
def test_help_documents_the_exit_statuses(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ("exit status: 0 success; 1 the request failed (no answer in time, a remote "
            "error, ping not enabled); 2 usage or configuration error") in text
    assert "3 broker unreachable or refused the connection" in text


@pytest.mark.parametrize(("exc", "code", "text"), [
    (DriverLoadFailure("x", ValueError("unknown")), 2, "bad --url"),
    (InvalidTransportURL("rabbit://u:secret@h:x/", "bad port"), 2, "bad --url"),
    (MessagingTimeout("late"), 1, "no answer in time: late"),
    (MessageDeliveryFailure("refused"), 3, "the broker refused the request: refused"),
    (RemoteError("KeyError", "k", ["Traceback ..."]), 1, "RemoteError: Remote error: KeyError"),
    (ValueError("remote\nTraceback (most recent call last):\n  x"), 1, "ValueError: remote"),
])
def test_core_errors_map_to_exit_statuses(exc: BaseException, code: int, text: str) -> None:
    error = _ops.exit_for(exc)
    assert error.code == code
    assert str(error).startswith(text)
    assert "secret" not in str(error) and "Traceback (most" not in str(error)


def test_an_error_line_is_masked_and_single(capsys: pytest.CaptureFixture[str]) -> None:
    code = _ops.fail("call", _ops.OpsError(3, "rabbit://u:hunter2@h/ refused\nmore"))
    assert code == 3
    assert capsys.readouterr().err == "legacy-rpc call: error: rabbit://u:****@h/ refused more\n"


# ------------------------------------------------------------------ status grouping

H = "0123456789abcdef" * 2


def test_queues_are_grouped_by_oslo_messaging_names() -> None:
    queues = [Queue("compute", 3, 2), Queue("compute.host-1", 0, 1),
              Queue("compute.host-2", 1, 1), Queue(f"compute_fanout_{H}", 0, 1),
              Queue(f"reply_{H}", 0, 1), Queue("notifications.info", 7, 0),
              Queue("notifications.error", 0, 0), Queue("amq.gen-x", 0, 1),
              Queue("scheduler", 0, 0), Queue(f"lonely_fanout_{H}", 0, 1)]
    overview = group_queues(queues)
    assert sorted(overview.topics) == ["compute", "scheduler"]
    compute = overview.topics["compute"]
    assert compute.queue == Queue("compute", 3, 2)
    assert sorted(compute.servers) == ["host-1", "host-2"]
    assert [q.name for q in compute.fanout] == [f"compute_fanout_{H}"]
    assert [q.name for q in overview.replies] == [f"reply_{H}"]
    assert sorted(q.name for q in overview.notifications) == ["notifications.error",
                                                              "notifications.info"]
    assert sorted(q.name for q in overview.other) == ["amq.gen-x", f"lonely_fanout_{H}"]
    text = format_overview(overview)
    assert "  compute: messages=3 consumers=2; 2 server(s), 1 fanout queue(s)" in text
    assert "    server host-1: messages=0 consumers=1" in text
    assert "  notifications.info: messages=7 consumers=0" in text
    assert "Reply queues: 1 (1 with a client)" in text


def test_dotted_server_names_and_topics() -> None:
    """A host name with dots is one server; ``TOPIC.SERVER`` goes to the longest topic."""
    overview = group_queues([Queue("compute", 0, 1), Queue("compute.h1.example.com", 0, 1),
                             Queue("cells.scheduler", 0, 1), Queue("cells", 0, 1),
                             Queue("cells.scheduler.h2", 0, 1)])
    assert sorted(overview.topics["compute"].servers) == ["h1.example.com"]
    assert sorted(overview.topics["cells.scheduler"].servers) == ["h2"]


NAMES = st.text(alphabet=string.ascii_lowercase + "._-" + "0123456789abcdef", min_size=1,
                max_size=20)


@given(st.lists(NAMES, unique=True, max_size=12))
def test_every_queue_is_shown_exactly_once(names: list[str]) -> None:
    overview = group_queues([Queue(n, 0, 0) for n in names])
    shown = _names(overview)
    assert sorted(shown) == sorted(names)


def _names(overview: Overview) -> list[str]:
    shown = [q.name for q in overview.notifications + overview.replies + overview.other]
    for topic in overview.topics.values():
        shown += [q.name for q in topic.fanout] + [q.name for q in topic.servers.values()]
        if topic.queue is not None:
            shown.append(topic.queue.name)
    return shown


def test_the_default_management_api_url() -> None:
    def url(text: str) -> str:
        return default_api_url(TransportURL.parse(None, text))

    assert url("rabbit://u:p@broker.example:5671/vh") == "http://broker.example:15672/api/"
    assert url("rabbit://") == "http://localhost:15672/api/"
    assert url("rabbit://u:p@[::1]:5672/") == "http://[::1]:15672/api/"
    assert _api_base("http://h:15672") == "http://h:15672/api/"
    assert _api_base("http://h:15672/api") == "http://h:15672/api/"
    assert _api_base("http://h:15672/api/") == "http://h:15672/api/"


# ------------------------------------------------------------------ scan progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_only_on_a_terminal_and_erases_itself() -> None:
    plain = io.StringIO()
    progress = Progress(plain, delay=0, every=0)
    progress(3, "a.py")
    progress.close()
    assert plain.getvalue() == ""
    tty = _Terminal()
    progress = Progress(tty, delay=0, every=0)
    progress(3, "dir/\x1b[31mevil.py")
    progress.close()
    assert tty.getvalue() == "\r\x1b[Kscanning: 3 files done, now dir/?[31mevil.py\r\x1b[K"


def test_progress_waits_for_its_delay() -> None:
    tty = _Terminal()
    progress = Progress(tty, delay=3600)
    progress(1, "a.py")
    progress.close()
    assert tty.getvalue() == ""
