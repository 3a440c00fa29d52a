"""Build the chart tests' tools when missing: ``python -m tests.helm.provision`` (make provision).

helm, kube-apiserver + kubectl and etcd come from the Go module proxy into the provisioning cache
(``LONGBOAT_CACHE_DIR``, default ``.longboat/cache``). Cold: about 10 minutes; warm: instant.
"""

from __future__ import annotations

import sys
from pathlib import Path

from longboat.devinfra import cache_dir
from longboat.devinfra._kube import provision_etcd, provision_helm, provision_kube
from longboat.errors import LongboatError

TOOLS = Path(__file__).resolve().parent / "tools"
REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    """Provision each tool; print where it is, or the error and how to fix it."""
    cache = cache_dir(REPO / ".longboat")
    try:
        print(f"helm {provision_helm(cache)}")  # noqa: T201
        print(f"etcd {provision_etcd(cache, TOOLS / 'etcd')}")  # noqa: T201
        apiserver, kubectl = provision_kube(cache, TOOLS / "kube")
        print(f"kube-apiserver {apiserver}\nkubectl {kubectl}")  # noqa: T201
    except LongboatError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
