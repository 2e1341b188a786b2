"""Sessions: tests, lint, typecheck, docs (and more as the project grows)."""

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[tests]")
    session.run("pytest", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """The fault-injection suite with hypothesis's long "fuzz" profile (minutes, not seconds)."""
    session.install("-e", ".[tests]")
    session.run(
        "pytest",
        "tests/test_fuzz.py",
        "--timeout=3600",  # the run is long; each example bounds itself with fail_after
        "--hypothesis-show-statistics",
        *session.posargs,
        env={"SMMAPI_HYPOTHESIS_PROFILE": "fuzz"},
    )


@nox.session
def crash(session: nox.Session) -> None:
    """The tracker's crash tests with many more SIGKILLs than CI's 50 (minutes, not seconds)."""
    session.install("-e", ".[tests]")
    kills = session.posargs[0] if session.posargs else "1000"
    session.run("pytest", "tests/test_tracking_crash.py", "-s", env={"SMMAPI_CRASH_KILLS": kills})


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "smmapi", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "smmapi", "tests", "bench", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[typecheck]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    session.install("-e", ".[docs]")
    session.run("sphinx-build", "-W", "-n", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session
def bench(session: nox.Session) -> None:
    # Benchmarks over real HTTP, beside httpx and the public SMM clients (bench/README.md). Not a
    # default session: it takes minutes. Options go after --, e.g. `nox -s bench -- --plot`.
    session.install("-e", ".[bench]")
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def cpu(session: nox.Session) -> None:
    # Instructions per lookup under callgrind (bench/cpu.py): stable on a shared machine, where
    # seconds are not. Needs valgrind (apt-get install -y valgrind); not run in CI.
    session.install("-e", ".")
    session.run("python", "bench/cpu.py", *session.posargs)
