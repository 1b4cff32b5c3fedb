"""Exceptions of the acme project (allowed to travel back to callers)."""


class WidgetNotFound(Exception):
    """No widget of that name."""
