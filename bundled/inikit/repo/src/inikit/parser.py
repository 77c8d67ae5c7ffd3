"""Line-oriented parser that turns INI text into sections and entries.

The grammar, one line at a time:

* blank lines separate entries (they end a multi-line value);
* ``#`` or ``;`` as the first non-blank character starts a full-line comment,
  which also ends a multi-line value; it is kept and attached to the next
  section or entry (or to the end of the file);
* ``[name]`` opens a section (``[DEFAULT]`` holds fallback values);
* ``key = value`` or ``key: value`` adds an entry; the first ``=`` or ``:`` is
  the delimiter, so values may contain either character;
* a line indented deeper than the key line above it continues that key's value;
* on a key line, ``#`` or ``;`` preceded by whitespace starts an inline comment.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, List, Optional, Tuple

from .errors import ParseError

if TYPE_CHECKING:  # pragma: no cover
    from .config import Config, Entry, Section

COMMENT_PREFIXES = ("#", ";")

_SECTION = re.compile(r"^\[(?P<name>[^\]]*)\]\s*(?:[#;].*)?$")


def _split_inline_comment(text: str) -> Tuple[str, str]:
    """Split ``text`` (what follows the delimiter) into value and inline comment.

    A comment starts at ``#`` or ``;`` that opens the text or follows whitespace,
    so ``http://host/#top`` stays whole.  The comment is returned with the
    whitespace before it, ready to be written back verbatim.
    """
    text = text.strip()
    for i, char in enumerate(text):
        if char in COMMENT_PREFIXES and (i == 0 or text[i - 1].isspace()):
            value = text[:i].rstrip()
            comment = text[len(value):] if value else " " + text[i:]
            return value, comment
    return text, ""


def _split_key_line(line: str) -> Optional[Tuple[str, str, str]]:
    """Return ``(key, delimiter, rest)`` for a key line, or ``None``."""
    positions = [p for p in (line.find("="), line.find(":")) if p != -1]
    if not positions:
        return None
    pos = min(positions)
    key = line[:pos].strip()
    if not key:
        return None
    return key, line[pos], line[pos + 1:]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_into(config: "Config", text: str, source: str = "<string>") -> None:
    """Parse ``text`` and merge its sections and entries into ``config``.

    Sections already present in ``config`` are extended; a key that is already
    present gets the new value and keeps its position.
    """
    from .config import Entry

    section: Optional["Section"] = None
    entry: Optional["Entry"] = None
    entry_indent = 0
    comments: List[str] = []

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            entry = None
            continue
        if stripped.startswith(COMMENT_PREFIXES):
            entry = None
            comments.append(stripped)
            continue
        indent = _indent(line)
        if entry is not None and indent > entry_indent:
            entry.value += "\n" + stripped
            continue
        entry = None
        entry_indent = indent
        header = _SECTION.match(stripped)
        if header:
            name = header.group("name").strip()
            if not name:
                raise ParseError("empty section name", source, lineno, raw)
            section = config._ensure_section(name)
            section.comments.extend(comments)
            comments = []
            continue
        parts = _split_key_line(stripped)
        if parts is None:
            raise ParseError("expected '[section]' or 'key = value'", source, lineno, raw)
        if section is None:
            raise ParseError("key outside of any section", source, lineno, raw)
        name, delimiter, rest = parts
        value, inline_comment = _split_inline_comment(rest)
        entry = section.put(Entry(name, value, delimiter=delimiter,
                                  comments=comments, inline_comment=inline_comment))
        comments = []

    config.trailing_comments.extend(comments)
