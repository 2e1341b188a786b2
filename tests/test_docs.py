"""Every Python block of README.md and docs/*.md runs against a FakePanel: the docs cannot drift.

How a page's blocks run (write new blocks to fit):

- In order, in one namespace per page: a block may use what an earlier block of its page made.
- ``panel`` (a FakePanel whose clock follows the event loop's) and ``client`` (an open AsyncClient
  on it) are there from the start; ``smm_panel`` and ``smm_client`` are the same two, for the
  testing page's fragments. Every AsyncClient a block makes talks to that panel, whatever its
  URL; the panel's key is ``your-api-key``, also in ``$SMMAPI_KEY`` (with ``$SMMAPI_URL``).
- A block with a top-level ``await`` runs on trio with a MockClock that jumps ahead whenever every
  task waits, so ``anyio.sleep(60)`` costs nothing; any other block runs in a worker thread, so
  it may call ``anyio.run()`` or ``asyncio.run()``. ``__name__`` is ``"__main__"``.
- Every ``smmapi.Client`` a block makes talks to that panel too, unless given a transport, and
  runs its event loop on trio with such a MockClock, so a blocking ``watch(interval=30)`` costs
  nothing either.
- Every ``# name.py`` file (but ``test_*.py`` files, which pytest reads) passes ``mypy --strict``
  (tests/test_typing.py): these are the programs users copy.
- A block whose first line is ``# name.py`` is a file, written to the page's own folder (the
  current directory, on ``sys.path``) and imported; a ``# test_*.py`` file is run by pytest and
  must pass.
- A block right after ``<!-- skip-test: reason -->`` is compiled but not run, and reported as
  skipped with its reason: only for code that needs what no test can have (a bot token).
"""

import ast
import importlib
import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
import smmapi
import smmapi.testing
import trio.testing
from smmapi.testing import FakePanel

from conftest import FollowTheClock

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
KEY = "your-api-key"  # the key the docs show
URL = "https://panel.example/api/v2"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
_ANY_PYTHON_FENCE = re.compile(r"^[ \t]*```+[ \t]*(\{[\w-]+\}[ \t]*)?(py|python|python3|pycon)\b", re.M)
_SKIP = re.compile(r"<!--\s*skip-test:\s*(?P<reason>\S.*?)\s*-->\s*\Z")
_FILE = re.compile(r"# (?P<name>\w+)\.py\n")
#: A block that waits longer than this on the virtual clock is stuck polling, not slow.
_VIRTUAL_DAY = 86_400


@attrs.frozen
class Block:
    page: Path
    line: int  # of the first line of code
    code: str
    skip: str | None

    @property
    def module(self) -> str | None:
        match = _FILE.match(self.code)
        return match["name"] if match else None

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def compile(self) -> Any:
        tree = ast.parse(self.code, str(self.page))
        ast.increment_lineno(tree, self.line - 1)  # tracebacks point into the page
        return compile(tree, str(self.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["code"].splitlines(keepends=True))
        skip = _SKIP.search(text, 0, match.start())
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start("code")) + 1,
                code=code,
                skip=skip["reason"] if skip else None,
            )
        )
    return found


BLOCKS = {page: blocks(page) for page in PAGES}
RUNNABLE = [page for page in PAGES if any(block.skip is None for block in BLOCKS[page])]
SKIPPED = [block for page in PAGES for block in BLOCKS[page] if block.skip is not None]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def on_the_panel(panel: FakePanel) -> type[smmapi.AsyncClient]:
    class AsyncClient(smmapi.AsyncClient):
        def __init__(self, url: str, key: str, **options: Any) -> None:
            if "transport" not in options and "http_client" not in options:
                options["transport"] = FollowTheClock(panel)
            super().__init__(url, key, **options)

    return AsyncClient


def blocking_on_the_panel(panel: FakePanel) -> type[smmapi.Client]:
    class Client(smmapi.Client):
        def __init__(self, url: str, key: str, **options: Any) -> None:
            if "transport" not in options and "http_client" not in options:
                options["transport"] = FollowTheClock(panel)
                self._backend = "trio"
                self._backend_options = {"clock": trio.testing.MockClock(autojump_threshold=0)}
            super().__init__(url, key, **options)

    return Client


@pytest.mark.parametrize("page", RUNNABLE, ids=page_id)
@pytest.mark.timeout(300)  # a page may run pytest in subprocesses, seconds each on a busy machine
def test_every_python_block_of_the_page_runs(page, pytester, monkeypatch):
    panel = FakePanel(key=KEY)
    client = smmapi.AsyncClient(URL, KEY, transport=FollowTheClock(panel))
    monkeypatch.setattr(smmapi, "AsyncClient", on_the_panel(panel))
    monkeypatch.setattr(smmapi, "Client", blocking_on_the_panel(panel))
    monkeypatch.setenv("SMMAPI_URL", URL)
    monkeypatch.setenv("SMMAPI_KEY", KEY)
    monkeypatch.syspath_prepend(str(pytester.path))
    namespace = {"__name__": "__main__", "panel": panel, "client": client}
    namespace.update(smm_panel=panel, smm_client=client)
    modules = [block.module for block in BLOCKS[page] if block.module]
    try:
        anyio.run(
            run_page,
            client,
            [block for block in BLOCKS[page] if block.skip is None],
            namespace,
            pytester,
            backend="trio",
            backend_options={"clock": trio.testing.MockClock(autojump_threshold=0)},
        )
    finally:
        for module in modules:
            sys.modules.pop(module, None)


async def run_page(
    client: smmapi.AsyncClient, page: list[Block], namespace: dict[str, Any], pytester: pytest.Pytester
) -> None:
    async with client:
        for block in page:
            if block.module:
                await anyio.to_thread.run_sync(run_file, block, pytester)
                continue
            code = block.compile()
            if code.co_flags & inspect.CO_COROUTINE:
                with anyio.fail_after(_VIRTUAL_DAY):
                    await eval(code, namespace)  # noqa: S307  (the docs' own code)
            else:
                await anyio.to_thread.run_sync(exec, code, namespace)


def run_file(block: Block, pytester: pytest.Pytester) -> None:
    assert block.module is not None
    block.compile()  # a syntax error points into the page
    pytester.makepyfile(**{block.module: block.code})
    if block.module.startswith("test_"):
        result = pytester.runpytest_subprocess(f"{block.module}.py", "-p", "no:cacheprovider")
        outcomes = result.parseoutcomes()
        assert result.ret == 0, f"{block}: {outcomes}\n{result.stdout.str()}"
        assert outcomes.get("passed", 0) > 0
    else:
        importlib.import_module(block.module)


PROGRAMS = [
    block
    for page in PAGES
    for block in BLOCKS[page]
    if block.module and block.skip is None and not block.module.startswith("test_")
]


@pytest.mark.parametrize("block", SKIPPED, ids=str)
def test_a_block_marked_to_skip_still_compiles(block):
    block.compile()
    pytest.skip(f"{block}: {block.skip}")


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_block_is_found(page):
    # A ```py or ```{code-block} python fence would escape the runner above.
    fences = _ANY_PYTHON_FENCE.findall(page.read_text(encoding="utf-8"))
    assert len(fences) == len(BLOCKS[page])


def test_the_readme_links_to_pages_that_exist():
    links = re.findall(r"\]\((?!https?://)([^)#]+)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert "docs/quickstart.md" in links
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_the_docs_have_python_blocks_to_run():
    assert len(RUNNABLE) >= 5
    assert all(block.skip.strip() for block in SKIPPED)


PUBLIC = [
    (module.__name__, name, getattr(module, name))
    for module in (smmapi, smmapi.testing)
    for name in module.__all__
    if inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name))
]


@pytest.mark.parametrize(("module", "name", "obj"), PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_every_public_class_and_function_has_a_docstring_with_an_example(module, name, obj):
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{module}.{name} has no docstring"
    assert "Example::" in doc, f"{module}.{name}'s docstring shows no call"


def test_every_public_value_is_described_in_the_reference():
    reference = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "docs").glob("*.md"))
    values = [
        f"{module.__name__}.{name}"
        for module in (smmapi, smmapi.testing)
        for name in module.__all__
        if not (inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name)))
        and not name.startswith("__")
    ]
    assert values
    assert [value for value in values if f":: {value}\n" not in reference] == []


def docstring_examples() -> list[tuple[str, str]]:
    """Each ``Example::`` block of the public docstrings, named by where it is."""
    found = []
    for module in (smmapi, smmapi.testing):
        owners = [module, *(getattr(module, name) for name in module.__all__)]
        for owner in filter(lambda o: inspect.ismodule(o) or inspect.isclass(o), owners):
            members = vars(owner).items() if inspect.isclass(owner) else []
            docs = [(owner.__name__, inspect.getdoc(owner))]
            for name, member in members:
                function = getattr(member, "__func__", getattr(member, "fget", member))
                if not name.startswith("_") and callable(function):
                    docs.append((f"{owner.__name__}.{name}", inspect.getdoc(function)))
            for where, doc in docs:
                blocks = re.finditer(r"^( *)Example::\n\n((?:\1 +.*\n|\n)+)", (doc or "") + "\n", re.M)
                found.extend((where, textwrap.dedent(match[2])) for match in blocks)
    return found


EXAMPLES = docstring_examples()
#: What the examples' names stand for; any attribute they use of these must exist.
_NAMES = {
    "smmapi": smmapi,
    "client": smmapi.AsyncClient,
    "watch": smmapi.Watch,
    "panel": FakePanel(),  # an instance: its url and key are set in __init__
    "smm_panel": FakePanel(),
    "Fault": smmapi.testing.Fault,
}


@pytest.mark.parametrize(("where", "example"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_every_docstring_example_compiles_and_calls_what_exists(where, example):
    tree = compile(example, where, "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    names = dict(_NAMES)
    if where.split(".")[0] in ("Client", "SyncWatch"):  # the blocking client's own examples
        names.update(client=smmapi.Client, watch=smmapi.SyncWatch)
    missing = [
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in names
        and not hasattr(names[node.value.id], node.attr)
    ]
    assert missing == []


def test_the_docstrings_have_examples_to_check():
    assert len(EXAMPLES) >= 60
