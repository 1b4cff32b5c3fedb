"""Exceptions raised by test servers, in a module the tests put in the allow-list."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An application exception with keyword arguments (as the original test's)."""

    def __init__(self, message: str = "Unknown", code: str = "Unknown") -> None:
        self.api_message = message
        self.code = code
        super().__init__(f"{code}: {message}")


class FooException(Exception):
    """An expected exception of a manager method."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
