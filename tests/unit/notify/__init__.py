"""Unit tests of the notifier layer (shared fixtures in conftest.py)."""
