"""Interop tests: real oslo.messaging peers in other processes against this library.

Nothing in this package may import ``legacy_rpc`` at module level except the test modules
and ``conftest``: the peer script (``oslo_peer.py``) and ``interop_errors`` are imported by
the oslo.messaging process too.
"""
