"""Exception types raised by inikit."""

from __future__ import annotations

from typing import Optional


class Error(Exception):
    """Base class of every error raised by inikit."""


class ParseError(Error):
    """The configuration text is not valid INI syntax.

    ``source`` names the input (a file name or ``"<string>"``), ``lineno`` is the
    1-based line number and ``line`` the offending line without its newline.
    """

    def __init__(self, message: str, source: str = "<string>", lineno: int = 0,
                 line: str = "") -> None:
        self.message = message
        self.source = source
        self.lineno = lineno
        self.line = line
        super().__init__(f"{source}:{lineno}: {message}: {line!r}")


class NoSectionError(Error, LookupError):
    """The requested section does not exist."""

    def __init__(self, section: str) -> None:
        self.section = section
        super().__init__(f"no section {section!r}")


class NoOptionError(Error, LookupError):
    """The requested key does not exist in the section (nor in ``[DEFAULT]``)."""

    def __init__(self, section: str, key: str) -> None:
        self.section = section
        self.key = key
        super().__init__(f"no option {key!r} in section {section!r}")


class ConversionError(Error, ValueError):
    """A value could not be converted by one of the typed getters."""

    def __init__(self, section: str, key: str, value: str, kind: str) -> None:
        self.section = section
        self.key = key
        self.value = value
        self.kind = kind
        super().__init__(f"[{section}] {key} = {value!r} is not a valid {kind}")


class InterpolationError(Error):
    """Base class of the errors raised while expanding ``${...}`` references."""

    def __init__(self, message: str, section: Optional[str] = None,
                 key: Optional[str] = None) -> None:
        self.section = section
        self.key = key
        super().__init__(message)


class InterpolationSyntaxError(InterpolationError):
    """A ``${`` reference is not closed or is empty."""


class InterpolationMissingError(InterpolationError):
    """A reference names a section or key that does not exist."""

    def __init__(self, section: str, key: str) -> None:
        super().__init__(f"bad interpolation reference ${{{section}:{key}}}: no such value",
                         section, key)


class InterpolationCycleError(InterpolationError):
    """A chain of references leads back to a value that is being expanded."""

    def __init__(self, section: str, key: str) -> None:
        super().__init__(f"interpolation cycle through ${{{section}:{key}}}", section, key)
