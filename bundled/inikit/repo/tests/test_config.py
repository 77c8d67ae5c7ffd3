import pytest

from inikit import Config, ConversionError, NoOptionError, NoSectionError

TEXT = """\
[DEFAULT]
timeout = 30
debug = off

[server]
host = example.org
port = 8080
ratio = 0.75
debug = on
hosts = a.example, b.example,
    c.example
paths = /bin:/usr/bin

[client]
retries = 3
"""


@pytest.fixture
def cfg():
    return Config.from_string(TEXT)


def test_missing_section_raises(cfg):
    with pytest.raises(NoSectionError):
        cfg.get("nope", "host")


def test_missing_option_raises(cfg):
    with pytest.raises(NoOptionError) as excinfo:
        cfg.get("server", "nope")
    assert excinfo.value.key == "nope"


def test_get_fallback(cfg):
    assert cfg.get("server", "nope", fallback="x") == "x"
    assert cfg.get("nope", "nope", fallback=None) is None


def test_default_section_values_are_inherited(cfg):
    assert cfg.get("client", "timeout") == "30"
    assert cfg.get("server", "debug") == "on"
    assert cfg.get("DEFAULT", "debug") == "off"


def test_sections_exclude_default(cfg):
    assert cfg.sections() == ["server", "client"]
    assert not cfg.has_section("DEFAULT")


def test_options_include_defaults(cfg):
    assert cfg.options("client") == ["retries", "timeout", "debug"]
    assert cfg.has_option("client", "timeout")
    assert not cfg.has_option("client", "host")
    assert not cfg.has_option("nope", "host")


def test_getint(cfg):
    assert cfg.getint("server", "port") == 8080
    assert cfg.getint("client", "timeout") == 30


def test_getint_invalid_raises(cfg):
    with pytest.raises(ConversionError) as excinfo:
        cfg.getint("server", "host")
    assert excinfo.value.kind == "integer"
    assert isinstance(excinfo.value, ValueError)


def test_getfloat(cfg):
    assert cfg.getfloat("server", "ratio") == 0.75


@pytest.mark.parametrize("text,expected", [
    ("1", True), ("yes", True), ("true", True), ("on", True),
    ("0", False), ("no", False), ("false", False), ("off", False),
], ids=["1", "yes", "true", "on", "0", "no", "false", "off"])
def test_getboolean(text, expected):
    cfg = Config.from_string(f"[a]\nflag = {text}\n")
    assert cfg.getboolean("a", "flag") is expected


def test_getboolean_invalid_raises():
    cfg = Config.from_string("[a]\nflag = maybe\n")
    with pytest.raises(ConversionError):
        cfg.getboolean("a", "flag")


def test_getboolean_uses_defaults(cfg):
    assert cfg.getboolean("server", "debug") is True
    assert cfg.getboolean("client", "debug") is False


def test_getlist_splits_on_commas_and_newlines(cfg):
    assert cfg.getlist("server", "hosts") == ["a.example", "b.example", "c.example"]


def test_getlist_custom_delimiter(cfg):
    assert cfg.getlist("server", "paths", delimiter=":") == ["/bin", "/usr/bin"]
    assert Config(list_delimiter=";").getlist("x", "y", fallback=[]) == []


def test_typed_getter_fallback(cfg):
    assert cfg.getint("client", "nope", fallback=5) == 5
    assert cfg.getboolean("nope", "nope", fallback=None) is None
    with pytest.raises(NoOptionError):
        cfg.getfloat("client", "nope")


def test_set_updates_existing_key(cfg):
    cfg.set("server", "PORT", 9090)
    assert cfg.getint("server", "port") == 9090
    assert cfg.options("server")[:2] == ["host", "port"]


def test_set_formats_values(cfg):
    cfg.set("client", "verbose", True)
    cfg.set("client", "names", ["x", "y"])
    cfg.set("client", "scale", 1.5)
    assert cfg.get("client", "verbose") == "true"
    assert cfg.get("client", "names") == "x, y"
    assert cfg.getlist("client", "names") == ["x", "y"]
    assert cfg.getfloat("client", "scale") == 1.5


def test_set_rejects_bad_input(cfg):
    with pytest.raises(NoSectionError):
        cfg.set("nope", "x", "1")
    with pytest.raises(ValueError):
        cfg.set("client", "a=b", "1")
    with pytest.raises(TypeError):
        cfg.set("client", "x", object())


def test_set_in_default_section(cfg):
    cfg.set("DEFAULT", "owner", "ops")
    assert cfg.get("client", "owner") == "ops"


def test_add_and_remove_sections(cfg):
    cfg.add_section("extra")
    assert cfg.sections() == ["server", "client", "extra"]
    with pytest.raises(ValueError):
        cfg.add_section("extra")
    with pytest.raises(ValueError):
        cfg.add_section("bad]name")
    assert cfg.remove_section("server") is True
    assert cfg.remove_section("server") is False
    assert cfg.sections() == ["client", "extra"]


def test_remove_option(cfg):
    assert cfg.remove_option("server", "Port") is True
    assert cfg.remove_option("server", "port") is False
    assert not cfg.has_option("server", "port")


def test_items_and_as_dict(cfg):
    assert cfg.items("client") == [("retries", "3"), ("timeout", "30"), ("debug", "off")]
    data = cfg.as_dict()
    assert list(data) == ["server", "client"]
    assert data["server"]["port"] == "8080"


def test_getboolean_is_case_insensitive():
    cfg = Config.from_string("[a]\nx = True\ny = NO\nz = On\nw = 'yes'\n")
    assert cfg.getboolean("a", "x") is True
    assert cfg.getboolean("a", "y") is False
    assert cfg.getboolean("a", "z") is True
    with pytest.raises(ConversionError):
        cfg.getboolean("a", "w")
