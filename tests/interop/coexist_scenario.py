"""One process holding legacy_rpc.messaging and oslo.messaging 18.3.1 on one config.

Run by ``test_coexistence.py`` in a fresh interpreter (so that "first use" really is first
in the process, ``cfg.CONF`` included)::

    python coexist_scenario.py --order oslo-first|ours-first --conf global|fresh \\
        --url rabbit://guest:guest@127.0.0.1:5672/vhost --name coexist-1234

Both libraries build their transports from the same config file (``transport_url``,
``control_exchange`` and the ``[oslo_messaging_notifications]`` driver and topics are read
from it by both), then: an oslo.messaging RPC server answers our client and ours answers
oslo.messaging's client; our notification listener receives oslo.messaging's notifier
and oslo.messaging's listener receives ours. Prints one JSON line with what each side got;
exits non-zero with a traceback on stderr on any error.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

warnings.simplefilter("ignore")  # oslo.messaging warns about eventlet and deprecations

import oslo_messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_context import context as oslo_context  # noqa: E402
from oslo_messaging._metrics import client as metrics_client  # noqa: E402
from oslo_messaging._tracing import client as tracing_client  # noqa: E402

import legacy_rpc.messaging as ours  # noqa: E402

WAIT = 30.0

CONFIG = """\
[DEFAULT]
transport_url = {url}
control_exchange = {name}
[oslo_messaging_notifications]
driver = messagingv2
topics = {name}-notifications
"""


class Echo:
    """An RPC endpoint of either library."""

    def __init__(self, side: str) -> None:
        self.side = side

    def echo(self, ctxt: dict[str, Any], value: Any) -> dict[str, Any]:
        return {"server": self.side, "value": value}


class Collector:
    """A notification endpoint that remembers the first ``info`` one from ``publisher_id``
    (its pool also receives its own library's notification)."""

    def __init__(self, publisher_id: str) -> None:
        self.publisher_id = publisher_id
        self.got = threading.Event()
        self.seen: dict[str, Any] = {}

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        if publisher_id == self.publisher_id and not self.got.is_set():
            self.seen = {"publisher_id": publisher_id, "event_type": event_type,
                         "payload": payload}
            self.got.set()


class Side:
    """The transports, servers and listeners of one library."""

    def __init__(self, lib: Any, name: str, label: str, conf: cfg.ConfigOpts) -> None:
        self.lib = lib
        self.name = name
        self.label = label
        self.conf = conf
        if lib is oslo_messaging:
            # oslo.messaging registers these two groups on cfg.CONF only, yet its servers
            # read them from the transport's conf: a fresh ConfigOpts needs them (as in
            # oslo.messaging's own ConfFixture).
            conf.register_opts(tracing_client.oslo_messaging_tracing,
                               group="oslo_messaging_tracing")
            conf.register_opts(metrics_client.oslo_messaging_metrics,
                               group="oslo_messaging_metrics")
        self.rpc_transport = lib.get_rpc_transport(conf)
        self.notification_transport = lib.get_notification_transport(conf)
        self.collector = Collector("ours.pub" if label == "oslo" else "oslo.pub")
        self.server: Any = None
        self.listener: Any = None

    def start(self) -> None:
        lib = self.lib
        target = lib.Target(topic=f"{self.name}-{self.label}-rpc", server="s1")
        self.server = lib.get_rpc_server(self.rpc_transport, target, [Echo(self.label)],
                                         executor="threading")
        self.server.start()
        topic = self.conf.oslo_messaging_notifications.topics[0]
        self.listener = lib.get_notification_listener(
            self.notification_transport, [lib.Target(topic=topic)], [self.collector],
            executor="threading", pool=f"{self.name}-{self.label}")
        self.listener.start()

    def call(self, other: Side) -> Any:
        target = self.lib.Target(topic=f"{self.name}-{other.label}-rpc")
        client = self.lib.get_rpc_client(self.rpc_transport, target, timeout=WAIT)
        return client.call({}, "echo", value=self.label)

    def notify(self) -> None:
        ctxt: Any = oslo_context.RequestContext(user_id="u1") if self.lib is oslo_messaging \
            else {"user_id": "u1"}
        notifier = self.lib.Notifier(self.notification_transport,
                                     publisher_id=f"{self.label}.pub")
        notifier.info(ctxt, f"{self.label}.event", {"from": self.label})

    def stop(self) -> None:
        for running in (self.server, self.listener):
            if running is not None:
                running.stop()
                running.wait()
        self.rpc_transport.cleanup()
        self.notification_transport.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--order", choices=("oslo-first", "ours-first"), required=True)
    parser.add_argument("--conf", choices=("global", "fresh"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lrpc-coexist-") as tmp:
        path = Path(tmp, "service.conf")
        path.write_text(CONFIG.format(url=args.url, name=args.name))
        conf = cfg.CONF if args.conf == "global" else cfg.ConfigOpts()
        conf(args=["--config-file", str(path)], project="coexist")
        libs = [(oslo_messaging, "oslo"), (ours, "ours")]
        if args.order == "ours-first":
            libs.reverse()
        sides = {label: Side(lib, args.name, label, conf) for lib, label in libs}
        oslo, mine = sides["oslo"], sides["ours"]
        try:
            for side in sides.values():
                side.start()
            result: dict[str, Any] = {
                "ours_to_oslo": mine.call(oslo),
                "oslo_to_ours": oslo.call(mine),
                "control_exchange": [conf.control_exchange],
            }
            oslo.notify()
            mine.notify()
            for side in sides.values():
                if not side.collector.got.wait(WAIT):
                    raise AssertionError(f"{side.label}'s listener got no notification")
            result["ours_heard"] = mine.collector.seen
            result["oslo_heard"] = oslo.collector.seen
        finally:
            for side in sides.values():
                side.stop()
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
