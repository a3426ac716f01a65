"""GB/T 4754-2017 industry codes: parsing, validation, prefix matching and the word picker.

A code is a class of four digits (``"6210"``), optionally led by its section letter (``"H6210"``).
Rules name prefixes: ``"*"`` (every industry), a section letter (``"H"``), or 2-4 digits (``"62"``).
People name industries in words (奶茶店, 服装加工, 全部行业): ``resolve`` turns words into one class,
``parse_industries`` turns a department's cell into rule prefixes, and both refuse a word that fits
several classes with the candidates, rather than picking one.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

import yaml

from siteselect.errors import AmbiguousInputError, InvalidInputError
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


class AmbiguousIndustryError(AmbiguousInputError):
    """Words that fit several classes (or entries); ``candidates`` lists them, code and name."""

    def __init__(self, text: str, candidates: list[dict[str, str]], more: int = 0):
        shown = "; ".join(f"{c['code']} {c['name']}" for c in candidates)
        tail = f"; and {more} more" if more else ""
        message = f"industry {text!r} fits several GB/T 4754 entries, choose one by code: {shown}{tail}"
        super().__init__(message, candidates)


class UnknownIndustryError(AmbiguousInputError):
    """Words that fit no class; ``candidates`` lists the classes of the closest names, if any."""

    def __init__(self, text: str, candidates: list[dict[str, str]]):
        shown = "; ".join(f"{c['code']} {c['name']}" for c in candidates)
        message = f"industry {text!r}: no GB/T 4754 entry matches these words" + (
            f"; the closest names: {shown}" if shown else ""
        )
        super().__init__(message, candidates)


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
    table = industry_table()
    if digits not in table:
        parent = table[digits[:-1]] if len(digits) > 2 else table[section]
        kind = "class" if len(digits) == 4 else "entry"
        raise InvalidInputError(
            f"{what} {text!r}: no such {kind} in {parent.level} {parent.code} {parent.name} of GB/T 4754-2017"
        )
    return digits


def normalize_code(text: str) -> str:
    """Return the four-digit class code of ``text``, raising ``InvalidInputError`` if malformed or unknown.

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
    """Return a rule prefix in canonical form: ``*``, a section letter, or the digits of an entry.

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


# ---- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Industry:
    """One entry of GB/T 4754-2017: a section, division, group or class, with its 说明 text if any."""

    code: str
    name: str
    parent: str = ""
    description: str = ""

    @property
    def level(self) -> str:
        return {1: "section", 2: "division", 3: "group", 4: "class"}[len(self.code)]

    @property
    def section(self) -> str:
        return self.code if self.code.isalpha() else section_of(int(self.code[:2])) or ""


@functools.cache
def industry_table() -> dict[str, Industry]:
    """Every entry of the standard by code (1,971: sections, divisions, groups and classes)."""
    with (layers_dir() / "industries.csv").open(encoding="utf-8", newline="") as f:
        return {
            row["code"]: Industry(row["code"], row["name"].strip(), row["parent"], row["description"].strip())
            for row in csv.DictReader(f)
        }


@functools.cache
def classes() -> list[Industry]:
    """Every class (four-digit code), in the standard's order."""
    return [i for i in industry_table().values() if i.level == "class"]


@functools.cache
def classes_under(code: str) -> tuple[str, ...]:
    """The class codes an entry holds: ``"62"`` → 6210 … 6299; a class holds itself."""
    return tuple(c.code for c in classes() if matches(c.code, code))


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


# ---- words ----------------------------------------------------------------------------------------

# Words that name every industry in a department's sheet.
EVERY_INDUSTRY = frozenset(
    {"*", "全部", "全部行业", "所有行业", "全行业", "各行业", "所有", "不限", "不限行业"}
)
# A cell may list several industries: 5232、5239 or 娱乐场所;6210.
_SEPARATORS = re.compile(r"[;；,，、/|\s]+")
# Said before or after what the business does, and naming no industry: 我想开一家…店, …有限公司.
_LEAD = re.compile(
    r"^(我想|我要|想要|打算|准备|想)?((开办|开设|经营|从事|开|办|做)(一家|一个|一间|家|个|间)?|一家|一个)?"
)
_TAIL = re.compile(
    r"(有限责任公司|股份有限公司|有限公司|公司|工作室|门店|店铺|专卖店|连锁店|分店|小店|厂家|工厂|车间|作坊|"
    r"生产|加工|制造|制作|销售|经营|零售|批发|服务|业务|项目|店|厂|铺|部|行)$"
)
_TIERS = {"name": 6, "keyword": 5, "name core": 4, "within name": 3, "description": 2, "close to name": 1}
# What the words say the business does: makes things, sells them wholesale, or sells and serves people
# (a 店). Among the classes the words fit, only those of that kind are kept, if there are any.
_KINDS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"批发"), ("51",)),
    (re.compile(r"零售|专卖"), ("52",)),
    (re.compile(r"加工|制造|生产|制作|工厂|厂$|车间|作坊"), ("C",)),
    (re.compile(r"店$|门店|店铺|门市"), tuple("FGHIJKLMNOPQRS")),
]


def _clean(text: str) -> str:
    """NFKC (full-width to half-width), upper case, no spaces: how words and names are compared."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).upper()


def _readable(text: object, what: str = "industry") -> str:
    """The words as given, refused when no one could have typed them: control characters, lone surrogates."""
    words = str(text)
    bad = next((ch for ch in words if unicodedata.category(ch) in ("Cc", "Cs") and not ch.isspace()), None)
    if bad is not None:
        raise InvalidInputError(f"{what} {words!r}: character U+{ord(bad):04X} is not text")
    if len(words) > 200:
        raise InvalidInputError(f"{what}: {len(words)} characters, more than 200")
    return words


def _core(text: str) -> str:
    """What the business does, without the words around it: 我想开一家服装加工厂 → 服装."""
    core = _LEAD.sub("", text) or text
    while (shorter := _TAIL.sub("", core)) and shorter != core:
        core = shorter
    return core


@functools.cache
def _keywords() -> dict[str, tuple[str, ...]]:
    """Everyday words → the codes they name (classes, or whole groups and divisions)."""
    raw = yaml.safe_load((layers_dir() / "industry_keywords.yaml").read_text(encoding="utf-8"))
    return {_clean(word): tuple(str(code) for code in codes) for word, codes in raw.items()}


@functools.cache
def _names() -> dict[str, tuple[str, ...]]:
    """Each entry's name (and the name without 制造/服务/…: 无机酸制造 → 无机酸) → the codes so named."""
    found: dict[str, list[str]] = defaultdict(list)
    for entry in industry_table().values():
        for name in {_clean(entry.name), _core(_clean(entry.name))}:
            if len(name) >= 2:
                found[name].append(entry.code)
    return {name: tuple(codes) for name, codes in found.items()}


@dataclass(frozen=True)
class _Hit:
    code: str  # a class
    tier: int  # how the words matched: see _TIERS
    strength: float  # within a tier, higher is closer
    how: str


def _hits(text: str) -> list[_Hit]:
    """Every way the words may name a class: by name, keyword, piece of a name, 说明 text or a close name."""
    core = _core(text)
    hits: list[_Hit] = []

    def add(codes: tuple[str, ...], tier: str, strength: float, word: str) -> None:
        for code in codes:
            hits.extend(_Hit(c, _TIERS[tier], strength, f"{tier} {word}") for c in classes_under(code))

    if text in _names():
        add(_names()[text], "name", len(text), text)
    said: dict[str, list[str]] = defaultdict(list)  # class → the keywords in the words that name it
    found = _keywords_in(text)
    for word in found:
        for code in {c for entry in _keywords()[word] for c in classes_under(entry)}:
            said[code].append(word)
    for code, words in said.items():
        # The more of the words name a class, the closer (舞蹈+培训 → 8393); and the last word is the
        # head of a Chinese compound (生鲜超市 is a 超市), so it weighs a little more.
        strength = sum(map(len, words)) + (0.5 if found[-1] in words else 0)
        add((code,), "keyword", strength, "+".join(words))
    if not said and len(core) >= 2:  # a piece of keywords: 宠物 → 宠物店, 宠物医院 …
        for word in (w for w in _keywords() if core in w):
            add(_keywords()[word], "keyword", len(core) / len(word), word)
    if core in _names():
        add(_names()[core], "name core", len(core), core)
    # The words, and each keyword in them, as pieces of names: when a keyword names a shop but the
    # words say a factory (实木家具厂), the makers' names holding 家具 are there to keep.
    for piece in {core, *found} if len(core) >= 2 else found:
        for name, codes in _names().items():
            if piece in name or name in piece:  # the closer the whole name is to the words, the better
                size = min(len(piece), len(name))
                for code in codes:
                    whole = len(industry_table()[code].name)
                    add((code,), "within name", size + size / max(len(piece), whole), name)
    if len(core) >= 2:
        for entry in _described():
            if core in entry.description:
                add((entry.code,), "description", len(core), core)
    if not hits and len(core) >= 2:
        sharing = {code for i in range(len(core) - 1) for code in _bigrams().get(core[i : i + 2], ())}
        for entry in (industry_table()[code] for code in sharing):
            overlap = _common_length(core, _clean(entry.name))
            if overlap >= max(2, len(core) / 2):
                add((entry.code,), "close to name", overlap / len(core), entry.name)
    return hits


def _keywords_in(text: str) -> list[str]:
    """The keywords the words are made of, longest first from the left (烟酒店: 烟酒, not 酒店)."""
    keywords = _keywords()
    longest = max(map(len, keywords))
    found, i = [], 0
    while i < len(text):
        word = next((text[i : i + n] for n in range(longest, 0, -1) if text[i : i + n] in keywords), "")
        if word:
            found.append(word)
        i += len(word) or 1
    return found


@functools.cache
def _described() -> list[Industry]:
    return [entry for entry in industry_table().values() if entry.description]


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


def _of_its_kind(text: str, hits: list[_Hit]) -> list[_Hit]:
    """The hits of the kind of business the words say (服装加工: making; 服装店: selling), if any."""
    for pattern, prefixes in _KINDS:
        if pattern.search(text):
            kept = [h for h in hits if any(matches(h.code, p) for p in prefixes)]
            if kept:
                return kept
            break
    return hits


@functools.cache
def _bigrams() -> dict[str, tuple[str, ...]]:
    """Each pair of characters in class names → the classes so named: where a close name can be."""
    found: dict[str, set[str]] = defaultdict(set)
    for entry in classes():
        name = _clean(entry.name)
        for i in range(len(name) - 1):
            found[name[i : i + 2]].add(entry.code)
    return {pair: tuple(sorted(codes)) for pair, codes in found.items()}


@functools.lru_cache(maxsize=4096)
def _ranked(text: str) -> list[tuple[str, _Hit]]:
    """Each class once, with its closest hit, closest first (ties in the standard's order)."""
    best: dict[str, _Hit] = {}
    for hit in _of_its_kind(text, _hits(text)):
        if hit.code not in best or (hit.tier, hit.strength) > (best[hit.code].tier, best[hit.code].strength):
            best[hit.code] = hit
    return sorted(best.items(), key=lambda item: (-item[1].tier, -item[1].strength, item[0]))


def candidates(text: str) -> list[str]:
    """The classes words fit equally well, in the standard's order: one when the words are clear.

    >>> candidates("奶茶"), candidates("宠物店")
    (['6239'], ['5297', '8223'])
    """
    ranked = _ranked(_clean(text))
    if not ranked or ranked[0][1].tier == _TIERS["close to name"]:  # a guess: never taken as meant
        return []
    top = ranked[0][1]
    return sorted(code for code, hit in ranked if (hit.tier, hit.strength) == (top.tier, top.strength))


def search(query: str, limit: int = 20) -> list[dict[str, str]]:
    """Find classes by code (``62``, ``H6210``), name, 说明 text or everyday words (奶茶, 网吧, KTV).

    >>> [r["code"] for r in search("网吧")]
    ['9013']
    """
    text = _clean(_readable(query, "industry query"))
    if not text:
        raise InvalidInputError("the industry query is empty")
    if not 1 <= limit <= 200:
        raise InvalidInputError(f"limit must be from 1 to 200, got {limit}")
    if _PREFIX.match(text) and text != "*":
        try:
            prefix = normalize_prefix(text)
        except InvalidInputError:  # shaped like a code, naming no entry: nothing found
            return []
        return [describe(code) | {"matched_by": "code"} for code in classes_under(prefix)][:limit]
    return [describe(code) | {"matched_by": hit.how} for code, hit in _ranked(text)[:limit]]


def _ambiguous(text: str, codes: list[str]) -> AmbiguousIndustryError:
    shown = [{"code": c, "name": industry_table()[c].name} for c in codes[:30]]
    return AmbiguousIndustryError(text, shown, max(0, len(codes) - 30))


def _unknown(text: str) -> UnknownIndustryError:
    close = [{"code": code, "name": industry_table()[code].name} for code, _ in _ranked(_clean(text))[:5]]
    return UnknownIndustryError(text, close)


def resolve(text: str) -> str:
    """One class code from a code or everyday words: ``"6232"`` → 6232, ``"奶茶"`` → 6239.

    Words that fit several classes raise ``AmbiguousIndustryError`` listing them.
    """
    clean = _clean(_readable(text))
    if _PREFIX.match(clean):  # a code, or something shaped like one: it must be a class
        return normalize_code(clean)
    if not clean:
        raise InvalidInputError("industry: no code or words given")
    found = candidates(clean)
    if not found:
        raise _unknown(text)
    if len(found) > 1:
        raise _ambiguous(text, found)
    return found[0]


def parse_industries(text: str) -> list[str]:
    """Rule prefixes from a department's cell: codes, names or words, several separated by ;、, or spaces.

    ``"全部行业"`` → ``["*"]``, ``"餐饮"`` → ``["62"]``, ``"娱乐场所;6210"`` → ``["901", "6210"]``,
    ``"H"`` → ``["H"]``. A code, an entry's name or an everyday word of the keyword list stands for
    what it names; other words must fit one entry: words that fit several raise
    ``AmbiguousIndustryError`` with the candidates, and words that fit none name the word.
    """
    cell = _readable(text, "industries")
    prefixes = [p for part in _SEPARATORS.split(cell) if part.strip() for p in _prefixes_of(part)]
    if not prefixes:
        raise InvalidInputError(f"industries {text!r}: no industry given")
    return list(dict.fromkeys(prefixes))


def _prefixes_of(part: str) -> tuple[str, ...]:
    clean = _clean(part)
    if clean in EVERY_INDUSTRY:
        return ("*",)
    if _PREFIX.match(clean):
        return (normalize_prefix(clean),)
    named = _names().get(clean) or _keywords().get(clean)
    if named:  # a group and its only class share a name: the class is the one meant
        return tuple(c for c in named if not any(len(o) > len(c) and o.startswith(c) for o in named))
    found = candidates(clean)
    if not found:
        raise _unknown(part)
    covering = _covering_entry(found)
    if covering is None:
        raise _ambiguous(part, found)
    return (covering,)


def _covering_entry(codes: list[str]) -> str | None:
    """The one entry whose classes are exactly ``codes`` (a group or division said in words), if any."""
    if len(codes) == 1:
        return codes[0]
    for entry in industry_table().values():
        if entry.level != "class" and list(classes_under(entry.code)) == codes:
            return entry.code
    return None
