"""Test helpers for applications that use legacy-rpc: a pytest plugin and fixtures."""
