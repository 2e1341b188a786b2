"""Peak memory of a client facing a hostile panel, each case in a process of its own.

    python bench/hostile.py [--max-answer-bytes 33554432] [--cap-mib 4096]

Runs ``tests/hostile.py`` (a raw HTTP server on loopback and a client asking it for the
balance, in one process) for each case: a gzip bomb, a deflate bomb, an endless chunked body,
a body of 200 MB, and a small answer for the baseline. Prints, per case, what the client
raised and the peak resident memory of the process (``ru_maxrss``), then one JSON line. Run it
with ``PYTHONPATH`` pointing at another checkout to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CASE_SCRIPT = Path(__file__).parents[1] / "tests" / "hostile.py"
CASES = ["small", "gzip-bomb", "deflate-bomb", "endless-chunked", "200-MB-body"]


def run(case: str, max_answer_bytes: int | None, cap_mib: int, timeout: float) -> dict[str, object]:
    command = [sys.executable, str(CASE_SCRIPT), case, "--cap-mib", str(cap_mib)]
    if max_answer_bytes is not None:
        command += ["--max-answer-bytes", str(max_answer_bytes)]
    try:
        done = subprocess.run(  # noqa: S603  (this interpreter, fixed arguments)
            command,
            capture_output=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "MALLOC_ARENA_MAX": "2"},
        )
    except subprocess.TimeoutExpired:
        return {"case": case, "outcome": f"still running after {timeout:g} s", "peak_bytes": None}
    if done.returncode:
        errors = [kind for kind in ("MemoryError", "RecursionError") if kind.encode() in done.stderr]
        last = done.stderr.decode().strip().splitlines()[-1]
        return {"case": case, "outcome": f"crashed: {', '.join(errors) or last}", "peak_bytes": None}
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-answer-bytes", type=int, help="the client's bound (default: its own)")
    parser.add_argument("--cap-mib", type=int, default=4096, help="RLIMIT_AS of each process")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    results = [run(case, args.max_answer_bytes, args.cap_mib, args.timeout) for case in CASES]
    for result in results:
        peak = result["peak_bytes"]
        shown = f"{peak / 2**20:8.1f} MiB" if isinstance(peak, int) else "       -    "
        print(f"{result['case']:16} {shown}  {result['outcome']}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
