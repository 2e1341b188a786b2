import subprocess
import sys
from types import ModuleType

import pytest
import smmapi


def test_all_names_every_public_member_and_is_sorted():
    # Like httpx's: every public name of the package is in __all__, and nothing else is. The
    # names are imported on first use: touch them, and nothing else may be there.
    assert smmapi.AsyncClient
    assert smmapi.Client
    public = {
        name
        for name, value in vars(smmapi).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert set(smmapi.__all__) == public | {"__version__"}
    assert smmapi.__all__ == sorted(smmapi.__all__, key=lambda n: (n.startswith("_"), n))


def test_public_names_report_the_public_module():
    for name in smmapi.__all__:
        value = getattr(smmapi, name)
        if isinstance(value, type):
            assert value.__module__ == "smmapi", name


def test_version_is_a_string():
    assert isinstance(smmapi.__version__, str)


def in_a_fresh_interpreter(code: str) -> str:
    return subprocess.run(  # noqa: S603  (this interpreter, fixed code)
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout


#: What `import smmapi` leaves for first use: the client and every library under it.
DEFERRED = ["smmapi._client", "httpx", "anyio", "attrs", "cattrs"]


def test_importing_smmapi_defers_the_client_and_its_libraries():
    loaded = in_a_fresh_interpreter(
        f"import sys, smmapi; print([m for m in {DEFERRED!r} if m in sys.modules], smmapi.__version__)"
    )
    assert loaded == f"[] {smmapi.__version__}\n"


def test_the_first_public_name_used_brings_every_other_but_the_blocking_client():
    loaded = in_a_fresh_interpreter(
        "import sys, smmapi; smmapi.Stats;"
        " print(sorted(set(smmapi.__all__) - set(vars(smmapi))), smmapi.ConnectError.__module__,"
        " 'smmapi._sync' in sys.modules, 'anyio.from_thread' in sys.modules)"
    )
    assert loaded == "['Client', 'SyncWatch'] smmapi False False\n"


def test_the_blocking_client_comes_with_its_names():
    loaded = in_a_fresh_interpreter(
        "import smmapi; smmapi.Client;"
        " print(sorted(set(smmapi.__all__) - set(vars(smmapi))), smmapi.SyncWatch.__module__)"
    )
    assert loaded == "[] smmapi\n"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        smmapi.Nope  # noqa: B018


def test_tracking_all_names_every_public_member_and_reports_its_public_module():
    from smmapi import tracking  # noqa: PLC0415  (smmapi itself never imports it)

    public = {
        name
        for name, value in vars(tracking).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert set(tracking.__all__) == public  # its order is ruff's (RUF022)
    for name in tracking.__all__:
        value = getattr(tracking, name)
        if isinstance(value, type):
            assert value.__module__ == "smmapi.tracking", name
