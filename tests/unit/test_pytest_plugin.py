"""The pytest plugin, run the way users run it: inside a separate pytest session."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

ENDPOINTS = """
    import threading

    import legacy_rpc.messaging as messaging


    class Calculator:
        target = messaging.Target(version="1.1")

        def __init__(self):
            self.seen = []
            self.event = threading.Event()

        def add(self, ctxt, a, b):
            return a + b

        def record(self, ctxt, value):
            self.seen.append(value)
            self.event.set()

        def fail(self, ctxt):
            raise ValueError("boom")

        def count(self, ctxt, n):
            yield from range(n)
"""


def _write_test(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(textwrap.dedent(ENDPOINTS) + textwrap.dedent(body))


def test_fixtures_serve_calls_casts_fanout_and_streams(pytester: pytest.Pytester) -> None:
    _write_test(pytester, """
        def test_call(rpc_server, rpc_client):
            rpc_server([Calculator()])
            assert rpc_client().call({}, "add", a=1, b=2) == 3

        def test_cast(rpc_server, rpc_client):
            calc = Calculator()
            rpc_server([calc])
            rpc_client().cast({}, "record", value="x")
            assert calc.event.wait(5)
            assert calc.seen == ["x"]

        def test_fanout_reaches_every_server(rpc_server, rpc_client):
            first, second = Calculator(), Calculator()
            rpc_server([first], server="a")
            rpc_server([second], server="b")
            rpc_client(fanout=True).cast({}, "record", value=1)
            assert first.event.wait(5) and second.event.wait(5)

        def test_remote_exception_and_version(rpc_server, rpc_client):
            import pytest
            rpc_server([Calculator()])
            with pytest.raises(ValueError, match="boom"):
                rpc_client().call({}, "fail")
            assert rpc_client(version="1.1").call({}, "add", a=2, b=2) == 4

        def test_stream(rpc_server, rpc_client):
            rpc_server([Calculator()])
            assert list(rpc_client().stream({}, "count", n=3)) == [0, 1, 2]

        def test_explicit_topic(rpc_server, rpc_client):
            srv = rpc_server([Calculator()], topic="my-topic", server="s1")
            assert srv.target.topic == "my-topic"
            assert rpc_client("my-topic", server="s1").call({}, "add", a=1, b=1) == 2
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


def test_conf_transport_and_topics(pytester: pytest.Pytester) -> None:
    _write_test(pytester, """
        import legacy_rpc.messaging as messaging

        TOPICS = []

        def test_conf(messaging_conf, messaging_url):
            assert messaging_url.startswith("fake:///test-")
            assert messaging_conf.transport_url == messaging_url
            assert messaging_conf.rpc_response_timeout == 60
            messaging_conf.set_override("notification_topics", ["legacy"])
            assert messaging_conf.oslo_messaging_notifications.topics == ["legacy"]

        def test_transport(messaging_transport, messaging_conf):
            assert isinstance(messaging_transport, messaging.Transport)
            assert messaging_transport.conf is messaging_conf

        def test_server_uses_rpc_topic(rpc_server, rpc_topic):
            TOPICS.append(rpc_topic)
            assert rpc_server([Calculator()]).target.topic == rpc_topic

        def test_topics_are_unique(rpc_topic):
            TOPICS.append(rpc_topic)
            assert len(set(TOPICS)) == 2
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_each_test_has_an_in_memory_vhost_of_its_own(pytester: pytest.Pytester) -> None:
    """Transports of one test meet (one broker per vhost); the next test's do not."""
    _write_test(pytester, """
        import legacy_rpc.messaging as messaging

        URLS = []

        def test_first(messaging_conf, messaging_url, rpc_server):
            URLS.append(messaging_url)
            rpc_server([Calculator()], topic="shared-topic")
            other = messaging.get_rpc_transport(messaging_conf)  # a second transport
            try:
                client = messaging.get_rpc_client(
                    other, messaging.Target(topic="shared-topic"), timeout=10)
                assert client.call({}, "add", a=1, b=2) == 3
                messaging.get_rpc_client(
                    other, messaging.Target(topic="left-behind")).cast({}, "add", a=1, b=1)
            finally:
                other.cleanup()

        def test_second(messaging_url, rpc_server, rpc_client):
            URLS.append(messaging_url)
            assert URLS[0] != URLS[1]
            rpc_server([Calculator()], topic="shared-topic")
            client = rpc_client(topic="shared-topic", timeout=0.5)
            assert client.call({}, "add", a=2, b=2) == 4
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_servers_are_stopped_and_waited_after_each_test(pytester: pytest.Pytester) -> None:
    _write_test(pytester, """
        SERVERS = []

        def test_start(rpc_server):
            SERVERS.append(rpc_server([Calculator()], server="a"))
            SERVERS.append(rpc_server([Calculator()], server="b"))

        def test_they_were_stopped_and_waited():
            # wait() on a server that was not stopped would block and time out here.
            for srv in SERVERS:
                srv.wait(timeout=2)
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_client_timeout_is_short_by_default(pytester: pytest.Pytester) -> None:
    _write_test(pytester, """
        from legacy_rpc.testing.pytest_plugin import CLIENT_TIMEOUT

        def test_timeouts(rpc_client):
            assert rpc_client().timeout == CLIENT_TIMEOUT
            assert rpc_client(timeout=1.5).timeout == 1.5
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.parametrize(("env", "args", "expected"), [
    (None, [], "fake:///test-"),
    ("fake://from-env/", [], "fake://from-env/"),
    (None, ["--legacy-rpc-url", "fake://from-option/"], "fake://from-option/"),
    ("fake://from-env/", ["--legacy-rpc-url=fake://from-option/"], "fake://from-option/"),
])
def test_url_from_option_then_environment(pytester: pytest.Pytester,
                                          monkeypatch: pytest.MonkeyPatch, env: str | None,
                                          args: list[str], expected: str) -> None:
    if env is None:
        monkeypatch.delenv("LEGACY_RPC_TEST_URL", raising=False)
    else:
        monkeypatch.setenv("LEGACY_RPC_TEST_URL", env)
    _write_test(pytester, f"""
        def test_url(messaging_conf, rpc_server, rpc_client):
            assert messaging_conf.transport_url.startswith({expected!r})
            rpc_server([Calculator()])
            assert rpc_client().call({{}}, "add", a=1, b=1) == 2
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)


def test_header_names_a_non_default_url_without_its_password(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider",
                                "--legacy-rpc-url", "fake://user:s3cret@host/")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["legacy-rpc fixtures: transport URL fake://user:****@host/"])
    assert "s3cret" not in result.stdout.str()


def test_plugin_is_the_legacy_rpc_entry_point(pytester: pytest.Pytester) -> None:
    """Disabling the entry point by its name removes the fixtures."""
    pytester.makepyfile("def test_needs_it(rpc_server):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:legacy_rpc")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'rpc_server' not found*"])


def test_fixtures_work_in_a_fresh_interpreter(pytester: pytest.Pytester) -> None:
    """A new process loads the plugin from the installed entry point alone."""
    _write_test(pytester, """
        def test_call(rpc_server, rpc_client):
            rpc_server([Calculator()])
            assert rpc_client().call({}, "add", a=20, b=22) == 42
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=1)


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = ("import sys, legacy_rpc.testing.pytest_plugin; "
            "print(sorted(m for m in sys.modules "
            "if m.startswith(('legacy_rpc.messaging', 'oslo_config'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
