"""``python -m bench.rusage OUT COMMAND...``: run COMMAND, then write the kernel's accounting of
it and all its descendants (CPU seconds, largest RSS) to the JSON file OUT.

A wrapper process of its own, so that nothing else the bench runs is counted in.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path


def main() -> None:
    out, command = Path(sys.argv[1]), sys.argv[2:]
    returncode = subprocess.call(command)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.write_text(
        json.dumps(
            {
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "user_seconds": usage.ru_utime,
                "system_seconds": usage.ru_stime,
                "max_rss_mb": usage.ru_maxrss / 1024,
            }
        ),
        encoding="utf-8",
    )
    sys.exit(returncode)


if __name__ == "__main__":
    main()
