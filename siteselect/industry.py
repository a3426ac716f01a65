"""GB/T 4754-2017 industry codes: parsing, validation and prefix matching.

A code is a class of four digits (``"6210"``), optionally led by its section letter (``"H6210"``).
Rules name prefixes: ``"*"`` (every industry), a section letter (``"H"``), or 2-4 digits (``"62"``).
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass

import yaml

from siteselect.errors import InvalidInputError
from siteselect.specs import layers_dir

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

    In divisions the table lists completely, the class must exist.

    >>> normalize_code("H6210")
    '6210'
    """
    match = _CODE.match(str(text).strip().upper())
    if not match:
        raise InvalidInputError(
            f"industry code {text!r} is not a GB/T 4754 class code (four digits, e.g. '6210')"
        )
    code = _check_digits(text, match.group(1), match.group(2), "industry code")
    table = industry_table()
    if code[:2] in table and code not in table:
        raise InvalidInputError(
            f"industry code {text!r}: no such class in division {code[:2]} "
            f"{table[code[:2]].name} of GB/T 4754-2017"
        )
    return code


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


# ---- the table and the picker -------------------------------------------------------------------


@dataclass(frozen=True)
class Industry:
    """One entry of GB/T 4754-2017: a section, division, group or class."""

    code: str
    name: str

    @property
    def level(self) -> str:
        return {1: "section", 2: "division", 3: "group", 4: "class"}[len(self.code)]

    @property
    def section(self) -> str:
        return self.code if self.code.isalpha() else section_of(int(self.code[:2])) or ""


@functools.cache
def industry_table() -> dict[str, Industry]:
    """Every listed entry by code. A listed division has all its classes listed."""
    with (layers_dir() / "industries.csv").open(encoding="utf-8") as f:
        return {row["code"]: Industry(row["code"], row["name"].strip()) for row in csv.DictReader(f)}


@functools.cache
def _keywords() -> dict[str, tuple[str, ...]]:
    raw = yaml.safe_load((layers_dir() / "industry_keywords.yaml").read_text(encoding="utf-8"))
    return {word.upper(): tuple(codes) for word, codes in raw.items()}


def classes() -> list[Industry]:
    """Every listed class (four-digit code)."""
    return [i for i in industry_table().values() if i.level == "class"]


def describe(code: str) -> dict[str, str]:
    """Code, name and the names of its section and division, for showing to people."""
    table = industry_table()
    entry = table.get(code)
    section = section_of(int(code[:2])) or ""
    return {
        "code": code,
        "name": entry.name if entry else "",
        "section": section,
        "section_name": table[section].name if section in table else "",
        "division_name": table[code[:2]].name if code[:2] in table else "",
    }


def search(query: str, limit: int = 20) -> list[dict[str, str]]:
    """Find classes by code (``62``, ``H6210``) or by everyday words (奶茶, 网吧, KTV).

    Results come best first: a code's own classes, then classes named by a keyword found in the
    query, then classes whose name shares the longest piece of text with it.

    >>> [r["code"] for r in search("网吧")]
    ['9013']
    """
    text = query.strip().upper()
    if not text:
        raise InvalidInputError("the industry query is empty")
    if not 1 <= limit <= 200:
        raise InvalidInputError(f"limit must be from 1 to 200, got {limit}")
    if _PREFIX.match(text) and text != "*":
        prefix = normalize_prefix(text)
        found = [(c.code, "code") for c in classes() if matches(c.code, prefix)]
    else:
        found = _by_words(text)
    seen: dict[str, dict[str, str]] = {}
    for code, how in found:
        if code not in seen:
            seen[code] = describe(code) | {"matched_by": how}
    return list(seen.values())[:limit]


def _by_words(text: str) -> list[tuple[str, str]]:
    hits: list[tuple[int, str, str]] = []
    for word, codes in _keywords().items():
        if word in text or (len(text) >= 2 and text in word):
            hits += [(1000 + len(word), code, f"keyword {word}") for code in codes]
    for entry in classes():
        overlap = _common_length(text, entry.name)
        if overlap >= 2 or (overlap == len(text) == 1):
            hits.append((overlap * 10, entry.code, f"name {entry.name}"))
    hits.sort(key=lambda h: (-h[0], h[1]))
    return [(code, how) for _, code, how in hits]


def _common_length(a: str, b: str) -> int:
    """Length of the longest common substring: enough for short Chinese names."""
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] in b:
                best = j - i
            else:
                break
    return best


def resolve(text: str) -> str:
    """A class code from a code or from everyday words: ``"6232"`` → 6232, ``"奶茶"`` → 6239."""
    stripped = str(text).strip().upper()
    if _PREFIX.match(stripped):  # a code, or something shaped like one: it must be a class
        return normalize_code(stripped)
    best = search(text, 1)
    if not best:
        raise InvalidInputError(f"industry {text!r}: no GB/T 4754 class matches these words")
    return best[0]["code"]
