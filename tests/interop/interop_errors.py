"""An exception module shared by both sides of the interop tests.

Both the oslo.messaging peer process and the test process import it under the same dotted
name (``tests.interop.interop_errors``) and allow it in ``allowed_remote_exmods``, so a
remote ``InteropError`` is rebuilt as its own class on either side. It must import nothing
but the standard library.
"""

from __future__ import annotations

MODULE = __name__


class InteropError(Exception):
    """An application error with a keyword argument that travels in the failure's kwargs."""

    def __init__(self, message: str = "", code: int = 0) -> None:
        super().__init__(message)
        self.code = code
        # Both serializers send ``exc.kwargs`` and rebuild with ``klass(*args, **kwargs)``.
        self.kwargs = {"code": code}
