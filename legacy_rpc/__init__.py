"""legacy-rpc: the legacy OpenStack rpc API and the oslo.messaging API on one maintained core."""

__version__ = "0.1.0"
