from types import ModuleType

import smmapi


def test_all_names_every_public_member_and_is_sorted():
    # Like httpx's: every public name of the package is in __all__, and nothing else is.
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
