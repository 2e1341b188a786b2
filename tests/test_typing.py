"""The API as users type it: mypy --strict passes on tests/typing/ and on the docs' programs.

tests/typing/ files are never run: they hold what must type-check, and what must not (a
``# type: ignore[code]`` that --strict reports as unused the day the error it expects is gone).
"""

import shutil
import subprocess
import sys
from pathlib import Path

from test_docs import PROGRAMS

TYPING = Path(__file__).parent / "typing"


def test_the_typing_files_and_the_docs_programs_pass_mypy_strict(tmp_path):
    files = sorted(TYPING.glob("*.py"))
    names = [path.name for path in files] + [f"{block.module}.py" for block in PROGRAMS]
    assert len(set(names)) == len(names)
    assert len(PROGRAMS) >= 4
    for path in files:
        shutil.copy(path, tmp_path / path.name)
    for block in PROGRAMS:
        (tmp_path / f"{block.module}.py").write_text(block.code, encoding="utf-8")
    result = subprocess.run(  # noqa: S603  (mypy on the files this test wrote)
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy_cache"), *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
