"""``oslo_messaging._drivers.common``'s remote-exception helpers, which test suites call.

They are the wire module's functions: the failure JSON of oslo.messaging 18.x.
"""

from __future__ import annotations

from legacy_rpc.messaging.wire import deserialize_remote_exception, serialize_remote_exception

__all__ = ["serialize_remote_exception", "deserialize_remote_exception"]
