"""The admin context the bus drivers send when a notification has none."""

from __future__ import annotations

import uuid

from legacy_rpc.rpc import common

__all__ = ["get_admin_context"]


def get_admin_context() -> common.CommonRpcContext:
    """A context with admin rights and no user, as ``context.get_admin_context()`` gave."""
    return common.CommonRpcContext(user=None, tenant=None, is_admin=True, read_only=False,
                                   show_deleted=False,
                                   request_id=f"req-{uuid.uuid4()}")
