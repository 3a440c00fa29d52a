"""Build the tracing tests' OpenTelemetry Collector when missing (make provision-test).

``python -m tests.tools.provision``: it comes from the Go module proxy into the provisioning
cache (``LONGBOAT_CACHE_DIR``, default ``.longboat/cache``), built from the wrapper module
``tests/tools/otelcol``. Cold: about four minutes on two cores; warm: instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

from longboat.devinfra import cache_dir
from longboat.devinfra._otelcol import provision_otelcol
from longboat.errors import LongboatError

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parents[1]


def main() -> int:
    """Provision the collector; print where it is, or the error and how to fix it."""
    try:
        print(f"otelcol {provision_otelcol(cache_dir(REPO / '.longboat'), TOOLS / 'otelcol')}")  # noqa: T201
    except LongboatError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
