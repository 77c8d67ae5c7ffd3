import pytest

from inikit import (Config, InterpolationCycleError, InterpolationMissingError,
                    InterpolationSyntaxError, escape, interpolate)


def make(text, **kwargs):
    return Config.from_string(text, **kwargs)


def test_same_section_reference():
    cfg = make("[paths]\nroot = /srv\ndata = ${root}/data\n")
    assert cfg.get("paths", "data") == "/srv/data"


def test_cross_section_reference():
    cfg = make("[server]\nhost = example.org\nport = 80\n[client]\nurl = http://${server:host}:${server:port}/\n")
    assert cfg.get("client", "url") == "http://example.org:80/"


def test_nested_references_use_their_own_section():
    text = "[a]\nname = A\nlabel = section ${name}\n[b]\nname = B\nshow = ${a:label} from ${name}\n"
    cfg = make(text)
    assert cfg.get("b", "show") == "section A from B"


def test_reference_keys_are_case_insensitive():
    cfg = make("[a]\nHome = /home/me\nrc = ${HOME}/.rc\n")
    assert cfg.get("a", "rc") == "/home/me/.rc"


def test_double_dollar_is_literal():
    cfg = make("[a]\nprice = $$5 (${cur})\ncur = USD\nraw = $${not_a_ref}\n")
    assert cfg.get("a", "price") == "$5 (USD)"
    assert cfg.get("a", "raw") == "${not_a_ref}"


def test_lone_dollar_is_kept():
    cfg = make("[a]\nx = costs $5 or 5$\n")
    assert cfg.get("a", "x") == "costs $5 or 5$"


def test_missing_reference_raises():
    cfg = make("[a]\nx = ${nope}\ny = ${other:x}\n")
    with pytest.raises(InterpolationMissingError) as excinfo:
        cfg.get("a", "x")
    assert (excinfo.value.section, excinfo.value.key) == ("a", "nope")
    with pytest.raises(InterpolationMissingError):
        cfg.get("a", "y")


def test_self_reference_is_a_cycle():
    cfg = make("[a]\nx = ${x}!\n")
    with pytest.raises(InterpolationCycleError) as excinfo:
        cfg.get("a", "x")
    assert excinfo.value.key == "x"


def test_indirect_cycle_raises():
    cfg = make("[a]\nx = ${b:y}\n[b]\ny = ${z}\nz = ${a:x}\n")
    with pytest.raises(InterpolationCycleError):
        cfg.get("a", "x")


def test_same_reference_used_twice():
    cfg = make("[a]\nname = web\ntitle = ${name}-${name}\n")
    assert cfg.get("a", "title") == "web-web"


def test_diamond_references_are_not_a_cycle():
    text = (
        "[paths]\nroot = /srv\n"
        "logs = ${root}/logs\n"
        "cache = ${root}/cache\n"
        "all = ${logs} ${cache}\n"
    )
    cfg = make(text)
    assert cfg.get("paths", "all") == "/srv/logs /srv/cache"


def test_bad_references_raise_syntax_error():
    cfg = make("[a]\nx = ${unterminated\ny = ${}\nz = ${a:}\n")
    for key in ("x", "y", "z"):
        with pytest.raises(InterpolationSyntaxError):
            cfg.get("a", key)


def test_raw_and_disabled_interpolation():
    text = "[a]\nroot = /srv\ndata = ${root}/data\n"
    assert make(text).get("a", "data", raw=True) == "${root}/data"
    assert make(text, interpolation=False).get("a", "data") == "${root}/data"


def test_typed_getters_interpolate():
    cfg = make("[a]\nbase = 8000\nport = ${base}\nhosts = ${h1}, ${h2}\nh1 = x\nh2 = y\n")
    assert cfg.getint("a", "port") == 8000
    assert cfg.getlist("a", "hosts") == ["x", "y"]


def test_interpolate_with_custom_lookup():
    values = {("s", "name"): "world", ("t", "greet"): "hello ${s:name}"}
    assert interpolate("${t:greet}!", "s", lambda sec, key: values[(sec, key)]) == "hello world!"


def test_escape_round_trips():
    cfg = make("[a]\n")
    cfg.set("a", "x", escape("cost: $10 ${x}"))
    assert cfg.get("a", "x") == "cost: $10 ${x}"


def test_reference_to_default_value():
    text = "[DEFAULT]\nroot = /srv\n[app]\ndata = ${root}/data\nlogs = ${DEFAULT:root}/logs\n"
    cfg = make(text)
    assert cfg.get("app", "data") == "/srv/data"
    assert cfg.get("app", "logs") == "/srv/logs"


def test_default_value_interpolated_in_requesting_section():
    text = "[DEFAULT]\nhome = /home/${user}\nuser = nobody\n[alice]\nuser = alice\n[bob]\n"
    cfg = make(text)
    assert cfg.get("alice", "home") == "/home/alice"
    assert cfg.get("bob", "home") == "/home/nobody"
