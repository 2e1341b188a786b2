"""Instructions per lookup under callgrind: statuses(), status() less the caller's task, and the task.

    nox -s cpu                       # or: python bench/cpu.py [--small 1000] [--large 5000]
    python bench/cpu.py --run status --lookups 1000    # one run, as valgrind runs it

Seconds on a shared machine move from run to run; instruction counts do not. Each figure runs
the same script twice under ``valgrind --tool=callgrind`` (Debian's ``valgrind`` package:
``apt-get install -y valgrind``), once with ``--small`` and once with ``--large`` lookups, and
divides the difference of the two counts by the difference of the lookups: start-up, imports and
warm-up cancel out, what is left is the cost of one more lookup.

In process, with no network: the panel is an ``httpx.MockTransport`` that answers each bulk
request with a body made before the run (the bench's status item, numbers as strings, as the
fake panel and most real ones send them), so its own cost is a dictionary look-up a request.

- ``statuses``: one ``statuses()`` call for every ID.
- ``status``: a task per ID, each awaiting ``status()``, less ``tasks``;
- ``tasks``: as many tasks that only wait for one event (the caller's task by itself).

The last line printed is one JSON object.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import anyio
import httpx
import smmapi

URL = "https://panel.bench/api/v2"
KEY = "bench-fake-key"
ITEM = {"charge": "0.27819", "start_count": "3572", "status": "In progress", "remains": "157"}
#: IDs warmed up before the measured lookups (caches filled, code paths taken), in every run.
WARM = 500
RUNS = ("statuses", "status", "tasks")


def replay_panel(ids: int) -> httpx.MockTransport:
    """Answers ``orders=...`` for any chunk of 100 of the first ``ids`` IDs from bodies made now.

    Its cost is a few steps a request, none an ID: the bodies are found by the form's last
    field as sent, not parsed.
    """
    bodies = {}
    for start in range(1, ids + 1, 100):
        chunk = [str(i) for i in range(start, min(start + 100, ids + 1))]
        sent = urlencode({"orders": ",".join(chunk)}).encode()
        bodies[sent] = json.dumps(dict.fromkeys(chunk, ITEM)).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bodies[request.content.rpartition(b"&")[2]])

    return httpx.MockTransport(answer)


async def run(kind: str, lookups: int, most: int) -> None:
    """``lookups`` lookups of one ``kind``, after a warm-up; the panel is made for ``most`` IDs."""
    transport = replay_panel(WARM + most)
    warm = range(1, WARM + 1)
    ids = range(WARM + 1, WARM + lookups + 1)
    async with smmapi.AsyncClient(URL, KEY, transport=transport) as client:
        if kind == "statuses":
            await client.statuses(warm)
            await client.statuses(ids)
        elif kind == "status":
            for batch in (warm, ids):
                async with anyio.create_task_group() as group:
                    for order in batch:
                        group.start_soon(client.status, order)
        else:
            for batch in (warm, ids):
                event = anyio.Event()
                async with anyio.create_task_group() as group:
                    for _ in batch:
                        group.start_soon(event.wait)
                    await anyio.wait_all_tasks_blocked()
                    event.set()


def instructions(kind: str, lookups: int, most: int) -> int:
    """The instructions one run of ``kind`` takes under callgrind."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        command += [sys.executable, __file__, "--run", kind, "--lookups", str(lookups), "--most", str(most)]
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict and set layouts in every run
        subprocess.run(command, check=True, env=env, capture_output=True)  # noqa: S603  (our own script)
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in the callgrind output of {kind}")


def main(small: int, large: int) -> dict[str, float]:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    per = {}
    for kind in RUNS:
        counts = [instructions(kind, lookups, large) for lookups in (small, large)]
        per[kind] = (counts[1] - counts[0]) / (large - small)
        print(f"  {kind:<9} {counts[0]:>14,} instructions for {small}, {counts[1]:>14,} for {large} lookups")
    figures = {
        "small": small,
        "large": large,
        "statuses_instructions_per_lookup": round(per["statuses"]),
        "status_instructions_per_lookup": round(per["status"] - per["tasks"]),
        "task_instructions_per_lookup": round(per["tasks"]),
    }
    print(
        f"instructions per lookup: statuses() {figures['statuses_instructions_per_lookup']:,}; "
        f"status() {figures['status_instructions_per_lookup']:,} less the caller's task "
        f"({figures['task_instructions_per_lookup']:,} by itself)"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=1_000, help="lookups of the smaller run")
    parser.add_argument("--large", type=int, default=5_000, help="lookups of the larger run")
    parser.add_argument("--run", choices=RUNS, help="one run, as valgrind runs it")
    parser.add_argument("--lookups", type=int, default=1_000, help="with --run: lookups")
    parser.add_argument("--most", type=int, default=5_000, help="with --run: IDs the panel is made for")
    args = parser.parse_args()
    if args.run:
        anyio.run(run, args.run, args.lookups, args.most)
    else:
        print(json.dumps(main(args.small, args.large)))
