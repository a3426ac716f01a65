"""GB/T 4754-2017 industry codes: parsing, validation and prefix matching.

A code is a class of four digits (``"6210"``), optionally led by its section letter (``"H6210"``).
Rules name prefixes: ``"*"`` (every industry), a section letter (``"H"``), or 2-4 digits (``"62"``).
"""

from __future__ import annotations

import re

from siteselect.errors import InvalidInputError

# Sections and the divisions (two-digit codes) they hold.
SECTIONS: dict[str, range] = {
    "A": range(1, 6),
    "B": range(6, 13),
    "C": range(13, 44),
    "D": range(44, 47),
    "E": range(47, 51),
    "F": range(51, 53),
    "G": range(53, 61),
    "H": range(61, 63),
    "I": range(63, 66),
    "J": range(66, 70),
    "K": range(70, 71),
    "L": range(71, 73),
    "M": range(73, 76),
    "N": range(76, 80),
    "O": range(80, 83),
    "P": range(83, 84),
    "Q": range(84, 86),
    "R": range(86, 91),
    "S": range(91, 97),
    "T": range(97, 98),
}

_CODE = re.compile(r"^([A-T]?)(\d{4})$")
_PREFIX = re.compile(r"^([A-T]?)(\d{2,4})$|^([A-T])$|^\*$")


def section_of(division: int) -> str | None:
    """The section letter of a two-digit division, or None if no section holds it."""
    for letter, divisions in SECTIONS.items():
        if division in divisions:
            return letter
    return None


def _check_digits(text: str, letter: str, digits: str, what: str) -> str:
    section = section_of(int(digits[:2]))
    if section is None:
        raise InvalidInputError(f"{what} {text!r}: division {digits[:2]} does not exist in GB/T 4754")
    if letter and letter != section:
        raise InvalidInputError(
            f"{what} {text!r}: division {digits[:2]} belongs to section {section}, not {letter}"
        )
    return digits


def normalize_code(text: str) -> str:
    """Return the four-digit class code of ``text``, raising ``InvalidInputError`` if malformed.

    >>> normalize_code("H6210")
    '6210'
    """
    match = _CODE.match(str(text).strip().upper())
    if not match:
        raise InvalidInputError(
            f"industry code {text!r} is not a GB/T 4754 class code (four digits, e.g. '6210')"
        )
    return _check_digits(text, match.group(1), match.group(2), "industry code")


def normalize_prefix(text: str) -> str:
    """Return a rule prefix in canonical form: ``*``, a section letter, or digits.

    >>> normalize_prefix("h62"), normalize_prefix("C"), normalize_prefix("*")
    ('62', 'C', '*')
    """
    clean = str(text).strip().upper()
    match = _PREFIX.match(clean)
    if not match:
        raise InvalidInputError(f"industry prefix {text!r} is not '*', a section letter A-T or 2-4 digits")
    if match.group(2):
        return _check_digits(text, match.group(1), match.group(2), "industry prefix")
    return clean


def parse_prefixes(value: str | list[str]) -> list[str]:
    """Parse ``"62;H;9013"`` (or a list) into canonical prefixes, in order, without repeats."""
    parts = value.split(";") if isinstance(value, str) else list(value)
    prefixes = [normalize_prefix(p) for p in parts if str(p).strip()]
    if not prefixes:
        raise InvalidInputError("no industry prefix given")
    return list(dict.fromkeys(prefixes))


def matches(code: str, prefix: str) -> bool:
    """Whether a class code falls under a prefix.

    >>> matches("6210", "62"), matches("1310", "C"), matches("6210", "C"), matches("9013", "*")
    (True, True, False, True)
    """
    if prefix == "*":
        return True
    if prefix.isalpha():
        return section_of(int(code[:2])) == prefix
    return code.startswith(prefix)
