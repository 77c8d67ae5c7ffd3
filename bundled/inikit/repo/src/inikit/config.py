"""The :class:`Config` object: sections, typed getters, interpolation, writing."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from .errors import (ConversionError, InterpolationMissingError, NoOptionError,
                     NoSectionError)
from .interpolation import interpolate
from .parser import parse_into

DEFAULT_SECTION = "DEFAULT"

BOOLEAN_STATES = {
    "1": True, "yes": True, "true": True, "on": True,
    "0": False, "no": False, "false": False, "off": False,
}

_UNSET: Any = object()


def normalize_key(key: str) -> str:
    """Keys are compared case-insensitively and without surrounding blanks."""
    return key.strip().lower()


@dataclass
class Entry:
    """One ``key = value`` line, with what is needed to write it back.

    ``name`` is the key as written, ``comments`` the full-line comments above it
    and ``inline_comment`` the comment after the value, whitespace included.
    """

    name: str
    value: str
    delimiter: str = "="
    comments: List[str] = field(default_factory=list)
    inline_comment: str = ""

    def lines(self) -> List[str]:
        """The lines this entry is written as (without comments above it)."""
        first, *rest = self.value.split("\n")
        head = f"{self.name} =" if self.delimiter == "=" else f"{self.name}:"
        if first:
            head += " " + first
        return [head + self.inline_comment] + ["    " + line for line in rest]


@dataclass
class Section:
    """An ordered collection of entries under a ``[name]`` header."""

    name: str
    entries: Dict[str, Entry] = field(default_factory=dict)
    comments: List[str] = field(default_factory=list)

    def put(self, entry: Entry) -> Entry:
        """Add ``entry``, or update the value of the entry with the same key."""
        key = normalize_key(entry.name)
        existing = self.entries.get(key)
        if existing is None:
            self.entries[key] = entry
            return entry
        existing.value = entry.value
        existing.inline_comment = entry.inline_comment
        existing.comments.extend(entry.comments)
        return existing

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and normalize_key(key) in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def _to_bool(value: str) -> bool:
    return BOOLEAN_STATES[value.strip().lower()]


def _to_int(value: str) -> int:
    return int(value.strip())


def _to_float(value: str) -> float:
    return float(value.strip())


def _format_value(value: Any, delimiter: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return (delimiter + " ").join(_format_value(v, delimiter) for v in value)
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


class Config:
    """A parsed configuration.

    ``interpolation`` turns ``${...}`` expansion on or off for :meth:`get` and the
    typed getters; ``list_delimiter`` separates the items read by :meth:`getlist`
    (newlines always do).
    """

    def __init__(self, interpolation: bool = True, list_delimiter: str = ",") -> None:
        self.interpolation = interpolation
        self.list_delimiter = list_delimiter
        self._defaults = Section(DEFAULT_SECTION)
        self._sections: Dict[str, Section] = {}
        self.trailing_comments: List[str] = []

    # -- reading ---------------------------------------------------------------

    @classmethod
    def from_string(cls, text: str, **kwargs: Any) -> "Config":
        """Create a :class:`Config` from INI text."""
        config = cls(**kwargs)
        config.read_string(text)
        return config

    def read_string(self, text: str, source: str = "<string>") -> None:
        """Parse ``text`` and merge it into this configuration."""
        parse_into(self, text, source)

    def read_file(self, fp: IO[str], source: Optional[str] = None) -> None:
        """Parse an open text file and merge it into this configuration."""
        self.read_string(fp.read(), source or getattr(fp, "name", "<file>"))

    def read(self, path: Union[str, "os.PathLike[str]"], encoding: str = "utf-8") -> None:
        """Parse the file at ``path`` and merge it into this configuration."""
        with open(path, encoding=encoding) as fp:
            self.read_file(fp, os.fspath(path))

    def _ensure_section(self, name: str) -> Section:
        if name == DEFAULT_SECTION:
            return self._defaults
        return self._sections.setdefault(name, Section(name))

    # -- sections and keys -----------------------------------------------------

    def sections(self) -> List[str]:
        """Names of the sections in file order, ``DEFAULT`` excluded."""
        return list(self._sections)

    def has_section(self, name: str) -> bool:
        return name in self._sections

    def add_section(self, name: str) -> None:
        """Add an empty section; it is an error if it already exists."""
        if name == DEFAULT_SECTION or name in self._sections:
            raise ValueError(f"section {name!r} already exists")
        if not name or any(c in name for c in "[]\n"):
            raise ValueError(f"invalid section name {name!r}")
        self._sections[name] = Section(name)

    def remove_section(self, name: str) -> bool:
        """Remove a section; return whether it existed."""
        return self._sections.pop(name, None) is not None

    def _section(self, name: str) -> Section:
        if name == DEFAULT_SECTION:
            return self._defaults
        try:
            return self._sections[name]
        except KeyError:
            raise NoSectionError(name) from None

    def options(self, section: str) -> List[str]:
        """Keys visible in ``section``: its own, then those inherited from DEFAULT."""
        own = list(self._section(section).entries)
        return own + [k for k in self._defaults.entries if k not in own]

    def has_option(self, section: str, key: str) -> bool:
        try:
            self._raw_value(section, key)
        except (NoSectionError, NoOptionError):
            return False
        return True

    def _raw_value(self, section: str, key: str) -> str:
        key = normalize_key(key)
        entry = self._section(section).entries.get(key)
        if entry is None:
            entry = self._defaults.entries.get(key)
        if entry is None:
            raise NoOptionError(section, key)
        return entry.value

    def _lookup(self, section: str, key: str) -> str:
        try:
            return self._raw_value(section, key)
        except (NoSectionError, NoOptionError):
            raise InterpolationMissingError(section, key) from None

    # -- getters ---------------------------------------------------------------

    def get(self, section: str, key: str, *, raw: bool = False, fallback: Any = _UNSET) -> Any:
        """Return the value of ``key`` in ``section`` (or in DEFAULT).

        References are expanded unless ``raw`` is true or interpolation is off.
        If the key is missing, ``fallback`` is returned when given.
        """
        try:
            value = self._raw_value(section, key)
        except (NoSectionError, NoOptionError):
            if fallback is _UNSET:
                raise
            return fallback
        if raw or not self.interpolation:
            return value
        return interpolate(value, section, self._lookup)

    def _get_converted(self, section: str, key: str, convert: Callable[[str], Any],
                       kind: str, raw: bool, fallback: Any) -> Any:
        try:
            value = self.get(section, key, raw=raw)
        except (NoSectionError, NoOptionError):
            if fallback is _UNSET:
                raise
            return fallback
        try:
            return convert(value)
        except (KeyError, ValueError):
            raise ConversionError(section, key, value, kind) from None

    def getint(self, section: str, key: str, *, raw: bool = False, fallback: Any = _UNSET) -> Any:
        """Return the value as an ``int``."""
        return self._get_converted(section, key, _to_int, "integer", raw, fallback)

    def getfloat(self, section: str, key: str, *, raw: bool = False, fallback: Any = _UNSET) -> Any:
        """Return the value as a ``float``."""
        return self._get_converted(section, key, _to_float, "float", raw, fallback)

    def getboolean(self, section: str, key: str, *, raw: bool = False,
                   fallback: Any = _UNSET) -> Any:
        """Return the value as a ``bool``: 1/yes/true/on or 0/no/false/off."""
        return self._get_converted(section, key, _to_bool, "boolean", raw, fallback)

    def getlist(self, section: str, key: str, *, delimiter: Optional[str] = None,
                raw: bool = False, fallback: Any = _UNSET) -> Any:
        """Return the value split on newlines and ``delimiter``, blanks dropped."""
        sep = delimiter or self.list_delimiter

        def convert(value: str) -> List[str]:
            items = []
            for line in value.split("\n"):
                items.extend(item.strip() for item in line.split(sep))
            return [item for item in items if item]

        return self._get_converted(section, key, convert, "list", raw, fallback)

    def items(self, section: str, *, raw: bool = False) -> List[Tuple[str, Any]]:
        """``(key, value)`` pairs of :meth:`options`, expanded like :meth:`get`."""
        return [(key, self.get(section, key, raw=raw)) for key in self.options(section)]

    def as_dict(self, *, raw: bool = False) -> Dict[str, Dict[str, Any]]:
        """Every section (DEFAULT excluded) as a plain nested dictionary."""
        return {name: dict(self.items(name, raw=raw)) for name in self._sections}

    # -- changing --------------------------------------------------------------

    def set(self, section: str, key: str, value: Any) -> None:
        """Set ``key`` in an existing section (or DEFAULT).

        Booleans are stored as ``true``/``false``, numbers with ``str`` and
        lists or tuples joined with the list delimiter.  An existing key keeps
        its position, spelling and comments; a new key goes to the end.
        """
        target = self._section(section)
        if not key.strip() or any(c in key for c in "=:\n") or key.strip()[0] in "#;[":
            raise ValueError(f"invalid key {key!r}")
        text = _format_value(value, self.list_delimiter)
        existing = target.entries.get(normalize_key(key))
        if existing is None:
            target.put(Entry(key.strip(), text))
        else:
            existing.value = text

    def remove_option(self, section: str, key: str) -> bool:
        """Remove ``key`` from ``section``; return whether it existed there."""
        return self._section(section).entries.pop(normalize_key(key), None) is not None

    # -- writing ---------------------------------------------------------------

    def write(self, fp: IO[str]) -> None:
        """Write the configuration as INI text, in its original order."""
        blocks = []
        sections = list(self._sections.values())
        if self._defaults.entries or self._defaults.comments:
            sections.insert(0, self._defaults)
        for section in sections:
            lines = list(section.comments)
            lines.append(f"[{section.name}]")
            for entry in section.entries.values():
                lines.extend(entry.comments)
                lines.extend(entry.lines())
            blocks.append("\n".join(lines) + "\n")
        fp.write("\n".join(blocks))
        for comment in self.trailing_comments:
            fp.write(comment + "\n")

    def to_string(self) -> str:
        """Return what :meth:`write` would write."""
        buffer = io.StringIO()
        self.write(buffer)
        return buffer.getvalue()
