"""inikit: a small INI-style configuration parser.

Read INI text with :meth:`Config.from_string` or :meth:`Config.read`, query it
with :meth:`Config.get` and the typed getters, change it with :meth:`Config.set`
and write it back out with :meth:`Config.write`.
"""

from .config import BOOLEAN_STATES, DEFAULT_SECTION, Config, Entry, Section, normalize_key
from .errors import (ConversionError, Error, InterpolationCycleError, InterpolationError,
                     InterpolationMissingError, InterpolationSyntaxError, NoOptionError,
                     NoSectionError, ParseError)
from .interpolation import escape, interpolate

__version__ = "0.4.0"

__all__ = [
    "BOOLEAN_STATES", "Config", "ConversionError", "DEFAULT_SECTION", "Entry", "Error",
    "InterpolationCycleError", "InterpolationError", "InterpolationMissingError",
    "InterpolationSyntaxError", "NoOptionError", "NoSectionError", "ParseError", "Section",
    "escape", "interpolate", "normalize_key",
]
