"""``python -m legacy_rpc.cli``: the ``legacy-rpc`` command without the console script."""

from __future__ import annotations

import sys

from legacy_rpc.cli import main

if __name__ == "__main__":
    sys.exit(main())
