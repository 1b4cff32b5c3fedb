"""Spec 9.4: ``test_common`` — remote exceptions, client exceptions, envelope, ``_safe_log``,
``version_is_compatible``, backend loading.

These are pure functions, run once (no broker involved); the end-to-end behaviour of
remote and client exceptions runs on fake and on RabbitMQ at the bottom.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from oslo_config import cfg

from legacy_rpc import rpc
from legacy_rpc.rpc import common
from tests.legacy import legacy_errors
from tests.legacy.conftest import LegacyEnv


class FakeConf:
    def __init__(self, allowed: list[str]) -> None:
        self.allowed_rpc_exception_modules = allowed


def _failure(exc: BaseException) -> str:
    try:
        raise exc
    except BaseException:
        return common.serialize_remote_exception(sys.exc_info())


def test_9_4_serialize_remote_exception() -> None:
    data = json.loads(_failure(Exception("test")))
    assert data["class"] == "Exception"
    assert data["module"] == "exceptions"  # the Python 2 name, as Python 2 peers expect
    assert data["message"] == "test"
    assert data["args"] == ["test"] and data["kwargs"] == {}
    assert any("raise exc" in line for line in data["tb"])


def test_9_4_serialize_remote_custom_exception() -> None:
    data = json.loads(_failure(legacy_errors.FooException("foo")))
    assert data["class"] == "FooException"
    assert data["module"] == "tests.legacy.legacy_errors"


def test_9_4_serialize_remote_exception_cell_hop() -> None:
    remote = common.deserialize_remote_exception(
        FakeConf(["tests.legacy.legacy_errors"]), _failure(legacy_errors.FooException("x")))
    assert type(remote).__name__ == "FooException_Remote"
    assert type(remote).__module__ == "tests.legacy.legacy_errors_Remote"
    data = json.loads(_failure(remote))
    assert data["class"] == "FooException"
    assert data["module"] == "tests.legacy.legacy_errors"
    assert data["message"].startswith("x\n")


def test_9_4_deserialize_remote_exception() -> None:
    failure = {"class": "NotImplementedError", "module": "exceptions", "message": "",
               "tb": ["raise NotImplementedError"]}
    after = common.deserialize_remote_exception(FakeConf(["exceptions"]),
                                                json.dumps(failure))
    assert isinstance(after, NotImplementedError)
    assert "raise NotImplementedError" in str(after)


def test_9_4_deserialize_remote_exception_bad_module() -> None:
    failure = {"class": "popen2", "module": "os", "message": "rm -rf /", "tb": []}
    after = common.deserialize_remote_exception(FakeConf(["exceptions"]),
                                                json.dumps(failure))
    assert isinstance(after, common.RemoteError)
    assert after.exc_type == "popen2"


def test_9_4_deserialize_remote_exception_user_defined_exception() -> None:
    failure = {"class": "FooException", "module": "tests.legacy.legacy_errors",
               "message": "foobar", "tb": ["raise FooException"], "args": ["foobar"]}
    after = common.deserialize_remote_exception(FakeConf(["tests.legacy.legacy_errors"]),
                                                json.dumps(failure))
    assert isinstance(after, legacy_errors.FooException)
    assert "foobar" in str(after) and "raise FooException" in str(after)


def test_9_4_deserialize_remote_exception_args_and_kwargs() -> None:
    class_path = "legacy_rpc.rpc.common"
    failure = {"class": "RPCException", "module": class_path, "message": "m",
               "tb": [], "args": ["fakearg"], "kwargs": {"fakekwarg": "fake"}}
    after = common.deserialize_remote_exception(FakeConf([class_path]), json.dumps(failure))
    assert isinstance(after, common.RPCException)
    assert after.args == ("fakearg",)
    assert after.kwargs == {"fakekwarg": "fake"}


def test_9_4_deserialize_remote_exception_cannot_recreate() -> None:
    failure = {"class": "FakeIDontExistException", "module": "tests.legacy.legacy_errors",
               "message": "", "tb": ["raise FakeIDontExistException"]}
    after = common.deserialize_remote_exception(FakeConf(["tests.legacy.legacy_errors"]),
                                                json.dumps(failure))
    assert isinstance(after, common.RemoteError)
    assert str(after).startswith("Remote error: FakeIDontExistException")
    assert "raise FakeIDontExistException" in str(after)


def test_9_4_loading_old_nova_config(restore_conf: Any) -> None:
    """``nova.rpc.impl_*`` (and any project's ``...openstack.common.rpc.impl_*``) select our
    backend modules through the core's alias table."""
    from legacy_rpc.rpc import impl_fake, impl_kombu, impl_qpid

    for name, module in (("nova.rpc.impl_qpid", impl_qpid),
                         ("nova.openstack.common.rpc.impl_kombu", impl_kombu),
                         ("cinder.openstack.common.rpc.impl_fake", impl_fake),
                         ("openstack.common.rpc.impl_kombu", impl_kombu),
                         ("legacy_rpc.rpc.impl_fake", impl_fake),
                         ("rabbit", impl_kombu)):
        restore_conf("rpc_backend", name)
        rpc._RPCIMPL = None
        assert rpc._get_impl() is module, name


def test_9_4_queue_get_for() -> None:
    assert rpc.queue_get_for(None, "a", "b") == "a.b"
    assert rpc.queue_get_for(None, "a", None) == "a"


def test_9_4_client_exception() -> None:
    e = ValueError("foo")
    try:
        try:
            raise e
        except ValueError:
            raise common.ClientException() from None
    except common.ClientException as client:
        assert client._exc_info[1] is e


def test_9_4_catch_client_exception() -> None:
    def naughty(param: int) -> None:
        int("a")

    with pytest.raises(common.ClientException) as info:
        common.catch_client_exception([ValueError], naughty, 1)
    assert isinstance(info.value._exc_info[1], ValueError)


def test_9_4_catch_client_exception_other() -> None:
    class FooException(Exception):
        pass

    def naughty() -> None:
        raise FooException()

    with pytest.raises(FooException):
        common.catch_client_exception([ValueError], naughty)


def test_9_4_client_exceptions_decorator() -> None:
    class FooException(Exception):
        pass

    @common.client_exceptions(FooException)
    def naughty() -> None:
        raise FooException()

    @common.client_exceptions(FooException)
    def really_naughty() -> None:
        raise ValueError()

    with pytest.raises(common.ClientException):
        naughty()
    with pytest.raises(ValueError):
        really_naughty()


def test_9_4_serialize_msg_v2() -> None:
    msg = {"foo": "bar"}
    s_msg = common.serialize_msg(msg)
    assert s_msg == {"oslo.version": "2.0", "oslo.message": json.dumps(msg)}
    assert common.deserialize_msg(s_msg) == msg


def test_9_4_deserialize_msg_no_envelope() -> None:
    for msg in (1, [], {}, "foo"):
        assert common.deserialize_msg(msg) == msg


def test_9_4_deserialize_msg_bad_version() -> None:
    s_msg = {"oslo.version": "8675309.0", "oslo.message": "{}"}
    with pytest.raises(common.UnsupportedRpcEnvelopeVersion):
        common.deserialize_msg(s_msg)


class _Logged:
    def __init__(self) -> None:
        self.data: Any = None

    def __call__(self, msg: str, data: Any) -> None:
        self.data = data


def _safe_log(data: dict[str, Any]) -> Any:
    logged = _Logged()
    common._safe_log(logged, "foo", data)
    return logged.data


def test_9_4_safe_log_sanitizes_globals() -> None:
    data = {"_context_auth_token": "banana", "auth_token": "cheese"}
    assert _safe_log(data) == {"_context_auth_token": "<SANITIZED>",
                               "auth_token": "<SANITIZED>"}
    assert data["auth_token"] == "cheese"  # the original is not modified


def test_9_4_safe_log_sanitizes_set_admin_password() -> None:
    data = {"method": "set_admin_password", "args": {"new_pass": "apple"}}
    assert _safe_log(data)["args"]["new_pass"] == "<SANITIZED>"


def test_9_4_safe_log_sanitizes_run_instance() -> None:
    data = {"method": "run_instance", "args": {"admin_password": "apple"}}
    assert _safe_log(data)["args"]["admin_password"] == "<SANITIZED>"


def test_9_4_safe_log_sanitizes_any_password_in_context() -> None:
    data = {"password": "monkey", "_context_password": "banana", "method": "m"}
    logged = _safe_log(data)
    assert logged["password"] == logged["_context_password"] == "<SANITIZED>"
    assert logged["method"] == "m"


def test_9_4_safe_log_sanitizes_cells_route_message() -> None:
    data = {"method": "route_message", "args": {"routing_path": "a.fake.path",
            "direction": "down", "message": {"args": {"is_broadcast": False,
            "service_name": "compute", "method_info": {"method_kwargs": {
                "password": "moo", "quiet": False}, "method": "set_admin_password"}}}}}
    logged = _safe_log(data)
    kwargs = logged["args"]["message"]["args"]["method_info"]["method_kwargs"]
    assert kwargs == {"password": "<SANITIZED>", "quiet": False}


def test_9_4_safe_log_sanitizes_any_password_in_list_of_dicts() -> None:
    data = {"users": [{"_password": "banana", "user": "alice"}, {"user": "bob"}]}
    assert _safe_log(data)["users"] == [{"_password": "<SANITIZED>", "user": "alice"},
                                        {"user": "bob"}]


@pytest.mark.parametrize(("imp", "req", "compatible"), [
    ("1.23", "1.23", True),      # same
    ("1.24", "1.23", True),      # newer minor
    ("1.22", "1.23", False),     # older minor
    ("2.23", "1.23", False),     # major difference 1
    ("1.23", "2.23", False),     # major difference 2
    ("1.23", "1.23.1", False),   # newer revision
    ("1.23.1", "1.23.2", False),  # newer revision, both
    ("1.23.2", "1.23.1", True),  # older revision, both
    ("1.24", "1.23.1", True),    # older revision
    ("1.23.0", "1.23", True),    # no revision is zero
    ("1.10", "1.9", True),       # numeric, not lexical
])
def test_9_4_version_is_compatible(imp: str, req: str, compatible: bool) -> None:
    assert common.version_is_compatible(imp, req) is compatible


# --------------------------------------------------------------------------- end to end

class Manager:
    @common.client_exceptions(legacy_errors.FooException)
    def expected(self, ctxt: Any) -> None:
        raise legacy_errors.FooException("expected failure")

    def unexpected(self, ctxt: Any) -> None:
        raise legacy_errors.FooException("unexpected failure")


def test_9_4_client_exceptions_end_to_end(legacy: LegacyEnv, context: Any,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """The caller gets the wrapped exception itself; the server logs it at debug only."""
    legacy.set("allowed_rpc_exception_modules", ["tests.legacy.legacy_errors"])
    topic = legacy.topic("test")
    legacy.consumer(topic, [Manager()])
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(legacy_errors.FooException, match="expected failure"):
            rpc.call(context, topic, {"method": "expected"})
        with pytest.raises(legacy_errors.FooException, match="unexpected failure"):
            rpc.call(context, topic, {"method": "unexpected"})
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info[1].args for r in errors if r.exc_info] == [("unexpected failure",)]


def test_9_4_timeout_catchable_both_ways(legacy: LegacyEnv, context: Any) -> None:
    """A legacy Timeout is also the core's MessagingTimeout (either except clause works)."""
    from legacy_rpc import messaging

    topic = legacy.topic("nobody")
    legacy.consumer(topic, [], start=False).close()
    with pytest.raises(messaging.MessagingTimeout) as info:
        rpc.call(context, topic, {"method": "echo"}, timeout=1)
    assert isinstance(info.value, common.Timeout)
    assert isinstance(info.value.__cause__, messaging.MessagingTimeout)
    assert f'topic: "{topic}", RPC method: "echo"' in str(info.value)
    assert cfg.CONF.rpc_response_timeout == 10  # the timeout given won over the option
