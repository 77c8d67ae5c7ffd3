from inikit import Config

CANONICAL = """\
# Application settings
[DEFAULT]
root = /srv

# the web server
[server]
host = example.org
# listen here
port = 8080
url: http://example.org/#top

[job]
env =
    PATH=/usr/bin
    HOME=/root
motd = line one
    line two
# end of file
"""


def test_round_trip_is_exact():
    assert Config.from_string(CANONICAL).to_string() == CANONICAL


def test_round_trip_keeps_references_raw():
    text = "[a]\nroot = /srv\ndata = ${root}/data\n"
    assert Config.from_string(text).to_string() == text


def test_output_is_normalized():
    text = "[a]\n  x=1\ny   :   2\n\n\n\n[b]\nz =   3  \n"
    assert Config.from_string(text).to_string() == "[a]\nx = 1\ny: 2\n\n[b]\nz = 3\n"


def test_key_spelling_is_preserved():
    cfg = Config.from_string("[a]\nMaxConnections = 10\n")
    cfg.set("a", "maxconnections", 20)
    assert cfg.to_string() == "[a]\nMaxConnections = 20\n"


def test_new_keys_and_sections_go_last():
    cfg = Config.from_string("[a]\nx = 1\n[b]\ny = 2\n")
    cfg.set("a", "z", "3")
    cfg.add_section("c")
    cfg.set("c", "w", ["p", "q"])
    assert cfg.to_string() == "[a]\nx = 1\nz = 3\n\n[b]\ny = 2\n\n[c]\nw = p, q\n"


def test_default_section_written_first():
    cfg = Config.from_string("[a]\nx = 1\n")
    cfg.set("DEFAULT", "owner", "ops")
    assert cfg.to_string() == "[DEFAULT]\nowner = ops\n\n[a]\nx = 1\n"


def test_multiline_value_set_programmatically():
    cfg = Config.from_string("[a]\n")
    cfg.set("a", "motd", "hello\nworld")
    out = cfg.to_string()
    assert out == "[a]\nmotd = hello\n    world\n"
    assert Config.from_string(out).get("a", "motd") == "hello\nworld"


def test_removed_entries_are_not_written():
    cfg = Config.from_string("[a]\nx = 1\ny = 2\n[b]\nz = 3\n")
    cfg.remove_option("a", "x")
    cfg.remove_section("b")
    assert cfg.to_string() == "[a]\ny = 2\n"


def test_write_to_file_and_read_back(tmp_path):
    path = tmp_path / "out.ini"
    cfg = Config.from_string(CANONICAL)
    with open(path, "w", encoding="utf-8") as fp:
        cfg.write(fp)
    again = Config()
    again.read(path)
    assert again.as_dict(raw=True) == cfg.as_dict(raw=True)


def test_empty_config_writes_nothing():
    assert Config().to_string() == ""


def test_inline_comments_round_trip():
    text = "[server]\ntimeout = 30  ; seconds\nhost = example.org # primary\nempty = ; unset\n"
    assert Config.from_string(text).to_string() == text


def test_inline_comment_survives_set():
    cfg = Config.from_string("[server]\ntimeout = 30  ; seconds\n")
    cfg.set("server", "timeout", 60)
    assert cfg.get("server", "timeout") == "60"
    assert cfg.to_string() == "[server]\ntimeout = 60  ; seconds\n"
