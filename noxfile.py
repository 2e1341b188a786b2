"""Sessions: tests (on each supported Python), lint, typecheck, docs, docs_layout, build, fuzz, bench."""

import os
import shutil
import tarfile
from pathlib import Path

import nox

PYPROJECT = nox.project.load_toml("pyproject.toml")
#: The Pythons the suite runs on: the classifiers of pyproject.toml, so they list what is tested.
PYTHONS = nox.project.python_versions(PYPROJECT)

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
# A Python this machine lacks is skipped with nox's "interpreter not found" line, even under CI,
# and never downloaded: the suite runs on the Pythons that are here.
nox.options.error_on_missing_interpreters = False
nox.options.download_python = "never"


def _put_pyenv_on_path() -> None:
    """Put pyenv's Pythons (~/.pyenv/versions/3.X.Y/bin) on PATH, ahead of its shims.

    A shim answers for every installed version but runs only the ones pyenv has selected, so nox
    would find ``python3.12`` on PATH and then fail to run it.
    """
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for python in PYTHONS:
        installed = [
            path.parent
            for path in versions.glob(f"{python}.*/bin/python{python}")
            if path.parents[1].name.removeprefix(f"{python}.").isdigit()
        ]
        if installed:
            found.append(max(installed, key=lambda bin_dir: int(bin_dir.parent.name.split(".")[2])))
    os.environ["PATH"] = os.pathsep.join([*map(str, found), os.environ.get("PATH", "")])


_put_pyenv_on_path()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[tests]")
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


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
    paths = ["smmapi", "tests", "bench", "noxfile.py", "docs/check_layout.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[typecheck]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    session.install("-e", ".[docs]")
    session.run("sphinx-build", "-W", "-n", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session(name="docs_layout")
def docs_layout(session: nox.Session) -> None:
    """Build the docs and render each page in headless Chromium at 1280 and 390 px; fail on overflow.

    ``nox -s docs_layout -- --screenshots DIR`` also saves what each page looks like.
    """
    if not any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        session.skip("no Chromium on PATH (Debian: apt-get install -y chromium)")
    docs(session)
    session.run("python", "docs/check_layout.py", "docs/_build/html", *session.posargs)


@nox.session(python=PYTHONS[-1])
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel, check them, try the wheel as a user would, test the sdist.

    The wheel goes into a fresh venv of its own (with the ``cli`` extra) for a smoke test; the
    sdist is unpacked where nothing is beside it, and its own tests run against its own install.
    On the newest Python: CI counts the sdist's run as the suite's run on it.
    """
    session.install("build", "twine")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    session.run("twine", "check", "--strict", str(wheel), str(sdist))

    user = tmp / "wheel-venv"
    session.run("python", "-m", "venv", "--clear", str(user))
    bin_dir = user / "bin"
    session.run(str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{wheel}[cli]", external=True)
    session.run(str(bin_dir / "python"), "-c", "import smmapi; print(smmapi.__version__)", external=True)
    session.run(str(bin_dir / "smmapi"), "--version", external=True)
    session.run(str(bin_dir / "smmapi"), "demo", "--orders", "20", external=True)

    unpacked = tmp / "sdist"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (root,) = unpacked.iterdir()
    session.install(f"{root}[tests]")
    session.chdir(root)
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


#: What bench/ measures smmapi against, pinned to the versions measured (bench/README.md). They
#: live here, not in an extra, so that smmapi's published metadata names none of them.
BENCH_REQUIREMENTS = [
    "uvicorn>=0.30",  # serves the fake panel on a loopback port, in its own process
    "matplotlib>=3.8",  # draws the chart of bench/run.py --plot (docs/_static/performance.png)
    "babismm==1.0.1",
    "safesmm==0.1.0",
    "smmpy==0.1.0",
    "optsmm==1.0.1",
    "aiohttp>=3.9",  # optsmm imports it but does not declare it
]


@nox.session
def bench(session: nox.Session) -> None:
    # Benchmarks over real HTTP, beside httpx and the public SMM clients (bench/README.md). Not a
    # default session: it takes minutes. Options go after --, e.g. `nox -s bench -- --plot`.
    session.install("-e", ".", *BENCH_REQUIREMENTS)
    session.run("python", "bench/run.py", *session.posargs)


@nox.session
def cpu(session: nox.Session) -> None:
    # Instructions per lookup under callgrind (bench/cpu.py): stable on a shared machine, where
    # seconds are not. Needs valgrind (apt-get install -y valgrind); not run in CI.
    session.install("-e", ".")
    session.run("python", "bench/cpu.py", *session.posargs)
