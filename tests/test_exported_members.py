import smmapi


def test_all_is_complete_and_sorted():
    public = {
        name
        for name, value in vars(smmapi).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == "smmapi"
    }
    assert public <= set(smmapi.__all__)
    assert smmapi.__all__ == sorted(smmapi.__all__, key=lambda n: (n.startswith("_"), n))


def test_public_names_report_the_public_module():
    for name in smmapi.__all__:
        value = getattr(smmapi, name)
        if isinstance(value, type):
            assert value.__module__ == "smmapi", name


def test_version_is_a_string():
    assert isinstance(smmapi.__version__, str)
