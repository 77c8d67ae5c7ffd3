import pytest

from inikit import Config, ParseError


def test_sections_and_keys():
    cfg = Config.from_string("[server]\nhost = localhost\nport = 8080\n\n[client]\nretries = 3\n")
    assert cfg.sections() == ["server", "client"]
    assert cfg.get("server", "host") == "localhost"
    assert cfg.get("server", "port") == "8080"
    assert cfg.get("client", "retries") == "3"


def test_colon_delimiter():
    cfg = Config.from_string("[a]\nname: value\nother:value2\n")
    assert cfg.get("a", "name") == "value"
    assert cfg.get("a", "other") == "value2"


def test_first_delimiter_wins():
    cfg = Config.from_string("[a]\nurl = http://example.com:8080/x\nmapping: k=v\n")
    assert cfg.get("a", "url") == "http://example.com:8080/x"
    assert cfg.get("a", "mapping") == "k=v"


def test_keys_are_case_insensitive():
    cfg = Config.from_string("[Server]\nHost = example\n")
    assert cfg.get("Server", "host") == "example"
    assert cfg.get("Server", "HOST") == "example"
    assert cfg.has_section("Server")
    assert not cfg.has_section("server")


def test_full_line_comments_are_not_values():
    text = "# top\n[a]\n; about x\nx = 1\n  # indented comment\ny = 2\n"
    cfg = Config.from_string(text)
    assert cfg.options("a") == ["x", "y"]
    assert cfg.get("a", "x") == "1"


def test_inline_comments_are_stripped():
    cfg = Config.from_string("[a]\nx = 1 ; one\ny = two   # second\nz = ; nothing\n")
    assert cfg.get("a", "x") == "1"
    assert cfg.get("a", "y") == "two"
    assert cfg.get("a", "z") == ""


def test_comment_char_inside_value_is_kept():
    cfg = Config.from_string("[a]\nurl = http://host/page#top\ncolor = #ff0000;\n")
    assert cfg.get("a", "url") == "http://host/page#top"


def test_multiline_value():
    cfg = Config.from_string("[a]\nmotd = first line\n  second line\n    third line\nnext = 1\n")
    assert cfg.get("a", "motd") == "first line\nsecond line\nthird line"
    assert cfg.get("a", "next") == "1"


def test_multiline_value_starting_on_next_line():
    cfg = Config.from_string("[a]\nitems =\n    one\n    two\n")
    assert cfg.get("a", "items") == "\none\ntwo"


def test_multiline_value_with_delimiters():
    text = "[job]\nenv =\n    PATH=/usr/bin\n    HOME: /root\ncommand = run\n"
    cfg = Config.from_string(text)
    assert cfg.options("job") == ["env", "command"]
    assert cfg.get("job", "env") == "\nPATH=/usr/bin\nHOME: /root"


def test_blank_line_ends_multiline_value():
    cfg = Config.from_string("[a]\nx = 1\n  more\n\ny = 2\n")
    assert cfg.get("a", "x") == "1\nmore"
    assert cfg.get("a", "y") == "2"


def test_key_outside_section_raises():
    with pytest.raises(ParseError) as excinfo:
        Config.from_string("x = 1\n[a]\n")
    assert excinfo.value.lineno == 1


def test_bad_line_reports_line_number():
    with pytest.raises(ParseError) as excinfo:
        Config.from_string("[a]\nx = 1\nthis is not valid\n", )
    assert excinfo.value.lineno == 3
    assert excinfo.value.line == "this is not valid"
    assert "<string>:3" in str(excinfo.value)


def test_empty_section_name_raises():
    with pytest.raises(ParseError):
        Config.from_string("[ ]\nx = 1\n")


def test_empty_key_raises():
    with pytest.raises(ParseError):
        Config.from_string("[a]\n = 1\n")


def test_duplicate_key_last_value_wins():
    cfg = Config.from_string("[a]\nx = 1\ny = 2\nX = 3\n")
    assert cfg.options("a") == ["x", "y"]
    assert cfg.get("a", "x") == "3"


def test_duplicate_section_is_merged():
    cfg = Config.from_string("[a]\nx = 1\n[b]\n[a]\ny = 2\n")
    assert cfg.sections() == ["a", "b"]
    assert cfg.options("a") == ["x", "y"]


def test_read_string_merges_into_existing_config():
    cfg = Config.from_string("[a]\nx = 1\n")
    cfg.read_string("[a]\nx = 10\n[b]\nz = 3\n")
    assert cfg.get("a", "x") == "10"
    assert cfg.get("b", "z") == "3"


def test_read_file_reports_file_name(tmp_path):
    path = tmp_path / "app.ini"
    path.write_text("[a]\nx = 1\n???\n", encoding="utf-8")
    with pytest.raises(ParseError) as excinfo:
        Config().read(path)
    assert excinfo.value.source == str(path)


def test_read_path(tmp_path):
    path = tmp_path / "app.ini"
    path.write_text("[a]\nx = 1\r\ny = 2\r\n", encoding="utf-8")
    cfg = Config()
    cfg.read(path)
    assert cfg.get("a", "y") == "2"


def test_indented_keys():
    text = "[server]\n    host = localhost\n    port = 8080\n\n[client]\n  retries = 3\n"
    cfg = Config.from_string(text)
    assert cfg.options("server") == ["host", "port"]
    assert cfg.get("server", "host") == "localhost"
    assert cfg.get("server", "port") == "8080"
    assert cfg.get("client", "retries") == "3"


def test_continuation_is_relative_to_key_indentation():
    text = (
        "[server]\n"
        "    host = localhost\n"
        "    allowed =\n"
        "        10.0.0.1\n"
        "        10.0.0.2\n"
        "    port = 8080\n"
    )
    cfg = Config.from_string(text)
    assert cfg.options("server") == ["host", "allowed", "port"]
    assert cfg.get("server", "allowed") == "\n10.0.0.1\n10.0.0.2"
    assert cfg.get("server", "port") == "8080"
