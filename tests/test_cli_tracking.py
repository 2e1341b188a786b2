"""``smmapi orders`` and ``smmapi track``: the tracker's journal from a terminal.

``track`` runs for real in a process of its own against the fake panel served by ``smmapi demo
--serve``, and is stopped with SIGINT as Ctrl-C stops it.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import smmapi
from click.testing import CliRunner, Result
from smmapi.cli._app import Seams, cli
from smmapi.cli._tracking import _database_said, _shown
from smmapi.testing import FakePanel, Fault, Outcomes
from smmapi.tracking import Tracker

LINK = "https://instagram.com/p/Cx1"


def run(args: list[str], panel: FakePanel | None = None) -> Result:
    environment: dict[str, str | None] = {"SMMAPI_URL": None, "SMMAPI_KEY": None, "SMMAPI_DB": None}
    if panel is not None:
        environment.update(SMMAPI_URL=panel.url, SMMAPI_KEY=panel.key)
    seams = Seams(transport=panel.transport() if panel else None, client_options={"retry_backoff": 0})
    return CliRunner().invoke(cli, args, obj=seams, env={**environment, "COLUMNS": "200"}, prog_name="smmapi")


async def journal_some(url: str, key: str, db: Path, **client: Any) -> None:
    """Three orders through a tracker that does not track (due at once); the fake may lose an answer."""
    async with (
        smmapi.AsyncClient(url, key, **client) as client_,
        Tracker(client_, db, interval=0, track=False) as tracker,
    ):
        for ref in ("a", "b", "lost"):
            await tracker.add(ref=ref, service=101, link=LINK, quantity=1000)


@pytest.fixture(name="db")
def _db(tmp_path: Path) -> Path:
    panel = FakePanel(seed=1, outcomes=Outcomes(partial=0, canceled=0, refill_rejected=0))
    panel.misbehave(Fault.status(502, when="after"), action="add", times=1)
    db = tmp_path / "orders.db"
    # The first add's answer is lost: "a" is unknown; "b" and "lost" are placed.
    anyio.run(lambda: journal_some(panel.url, panel.key, db, transport=panel.transport(), retry_backoff=0))
    return db


def test_orders_lists_the_journal(db):
    result = run(["orders", "--db", str(db)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any("a" in line.split() and "unknown" in line for line in lines)
    assert sum("placed" in line for line in lines) == 2


def test_orders_as_json_is_one_list(db):
    result = run(["orders", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [(e["ref"], e["state"]) for e in entries] == [
        ("a", "unknown"),
        ("b", "placed"),
        ("lost", "placed"),
    ]
    assert entries[0]["error"]["type"] == "OutcomeUnknownError"
    assert entries[0]["fields"] == {"service": 101, "link": LINK, "quantity": 1000}
    assert isinstance(entries[1]["order"], int)
    assert entries[1]["asked_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("options", "refs"),
    [
        (["--state", "unknown"], ["a"]),
        (["--state", "placed"], ["b", "lost"]),
        (["--final"], []),
        (["--not-final"], ["a", "b", "lost"]),
        (["--action", "refill"], []),
        (["--since", "2000-01-01"], ["a", "b", "lost"]),
        (["--since", "2999-01-01"], []),
    ],
    ids=["unknown", "placed", "final", "not-final", "refills", "since-then", "since-later"],
)
def test_orders_filters(db, options, refs):
    result = run(["orders", "--db", str(db), "--json", *options])
    assert result.exit_code == 0, result.output
    assert [entry["ref"] for entry in json.loads(result.stdout)] == refs


def test_orders_of_a_missing_journal_is_a_usage_error(tmp_path):
    result = run(["orders", "--db", str(tmp_path / "nothing.db")])
    assert result.exit_code == 2
    assert "no journal at" in result.stderr
    assert not (tmp_path / "nothing.db").exists()


def test_demo_places_its_orders_through_a_journal():
    result = run(["demo", "--orders", "20", "--speed", "3000", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["journal"] == {"placed": 20}


def read_line(process: subprocess.Popen[str], what: str) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if what in line:
            return line
    raise AssertionError(f"the process ended before printing {what!r}: {process.wait()}")


@pytest.mark.timeout(60)
def test_track_follows_the_journal_until_ctrl_c_then_exits_130(tmp_path):
    command = [sys.executable, "-m", "smmapi"]
    with subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
        [*command, "demo", "--serve", "--port", "0", "--speed", "3000", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            served = json.loads(read_line(server, "url"))
            db = tmp_path / "orders.db"
            anyio.run(lambda: journal_some(served["url"], served["key"], db))
            env = {**os.environ, "SMMAPI_URL": served["url"], "SMMAPI_KEY": served["key"]}
            with subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
                [*command, "track", "--db", str(db), "--interval", "0.05", "--json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            ) as tracker:
                finals = set()
                while len(finals) < 3:
                    change = json.loads(read_line(tracker, "cursor"))
                    if change["status"]["status"] in ("Completed", "Partial", "Canceled"):
                        finals.add(change["ref"])
                tracker.send_signal(signal.SIGINT)
                try:
                    _, errors = tracker.communicate(timeout=30)
                finally:
                    if tracker.poll() is None:  # it ignored Ctrl-C: fail, leaving no process behind
                        tracker.kill()
            assert tracker.returncode == 130
            assert errors.strip() == "smmapi: interrupted"
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=30)
    listed = run(["orders", "--db", str(db), "--final", "--json"])
    assert {entry["ref"] for entry in json.loads(listed.stdout)} == {"a", "b", "lost"}


@pytest.mark.parametrize(
    ("name", "code", "said"),
    [
        ("mysql://x", 2, "no journal at mysql://x"),  # not a scheme the tracker reads: a path, missing
        ("a-directory", 2, "no journal at"),
        ("garbage.db", 1, "cannot open the journal at"),
    ],
)
def test_orders_of_a_journal_that_cannot_be_opened_is_one_line(tmp_path, monkeypatch, name, code, said):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "garbage.db").write_text("not a database\n")
    result = run(["orders", "--db", name])
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert said in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_track_of_a_journal_that_cannot_be_opened_is_one_line(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database\n")
    result = run(["track", "--db", str(garbage)], FakePanel(seed=1))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"the journal at {garbage} failed" in result.stderr


@pytest.mark.parametrize("command", [["orders"], ["track"]])
def test_a_journals_password_is_never_printed(command):
    # Nothing listens on port 1: the DSN is refused (or, without the extra, not tried).
    dsn = "postgresql://tracker:not-a-real-secret@127.0.0.1:1/journal"
    result = run([*command, "--db", dsn], FakePanel(seed=1) if command == ["track"] else None)
    assert result.exit_code in {1, 2}, result.output
    assert "not-a-real-secret" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("db", "shown"),
    [
        ("postgresql://u:p%40ss@db.example:5432/smm", "postgresql://u:***@db.example:5432/smm"),
        ("postgres://u:pw@h/d?sslmode=require", "postgres://u:***@h/d?sslmode=require"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("/var/lib/orders.db", "/var/lib/orders.db"),
        ("orders.db", "orders.db"),
    ],
)
def test_a_dsn_is_shown_with_its_password_masked(db, shown):
    assert _shown(db) == shown


def test_what_the_database_says_is_shown_without_the_dsns_password():
    db = "postgresql://u:p%40ss-word@db.example/smm"
    error = RuntimeError('could not connect with "p@ss-word" (or p%40ss-word)')
    assert _database_said(error, db) == 'could not connect with "***" (or ***)'
