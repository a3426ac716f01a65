"""The law behind the rules: the law table, citations, the departments, and how sure a rule is.

A rule's ``basis`` is a list of citations, each naming a law of ``layers/law.yaml`` by its key, the
revision (the date of the text), the article and optionally the clause (款) and item (项). A citation
resolves to the sentence it names, quoted with the law's name, level, article and revision, so that a
clerk reads what a finding rests on. Departments are codes of ``layers/departments.yaml``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import yaml

from siteselect.specs import layers_dir

LEVELS = ("法律", "行政法规", "部门规章", "地方性法规", "规范性文件", "标准")
CITATION_FIELDS = ("law", "revision", "article", "clause", "item")
# How sure the basis of a rule is: its text was read and holds the rule's figure; the figure is a
# local default where the law leaves the distance to an authority; or the text or figure is unverified.
CERTAINTIES = ("verified", "local_default", "unverified")
LOCAL_DEFAULT_ZH = "本地默认距离，请以主管部门认定为准"
LOCAL_DEFAULT_EN = "a local default distance: the competent department's determination prevails"
NOT_HELD_ZH = "条文原文未收录，请查阅原文"
NOT_HELD_EN = "the text is not held here; read the original"

# Why an address on a department's prohibited list cannot be a registered domicile.
PROHIBITED_LIST_BASIS = [
    {"law": "山东住所登记办法", "revision": "2024-03-28", "article": "第四条", "clause": 1}
]

_REVISION = re.compile(r"^\d{4}(-\d{2}-\d{2})?$")
_NUMERALS = "〇一二三四五六七八九十"
_ITEM = re.compile(r"^[（(]([一二三四五六七八九十]+)[）)]")


@functools.cache
def laws() -> dict[str, dict[str, Any]]:
    """The law table, by key."""
    raw = yaml.safe_load((layers_dir() / "law.yaml").read_text(encoding="utf-8"))
    return dict(raw["laws"])


@functools.cache
def departments() -> dict[str, str]:
    """Department code → name."""
    raw = yaml.safe_load((layers_dir() / "departments.yaml").read_text(encoding="utf-8"))
    return {d["code"]: d["name"] for d in raw["departments"]}


def chinese_number(n: int) -> str:
    """1-99 in Chinese numerals, as items and clauses are numbered: 4 → 四, 12 → 十二, 20 → 二十."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens] + "十")
    return head + (_NUMERALS[ones] if ones or not tens else "")


def parse_citations(value: Any) -> list[dict[str, Any]]:
    """A basis as given (a list of mappings, or its JSON text) → citations; ``ValueError`` if malformed."""
    items = json.loads(value) if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError("basis must be a non-empty list of citations")
    return [_citation(c) for c in items]


def _citation(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) - set(CITATION_FIELDS) - {"level"}:
        raise ValueError(f"a citation is a mapping of {', '.join(CITATION_FIELDS)}")
    out: dict[str, Any] = {"law": str(raw.get("law") or ""), "revision": str(raw.get("revision") or "")}
    out["article"] = str(raw.get("article") or "")
    for part in ("clause", "item"):
        number = raw.get(part)
        if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
            raise ValueError(f"{part} must be a whole number from 1")
        out[part] = number
    if "level" in raw:
        out["level"] = raw["level"]
    return out


def citation_problems(
    citations: list[dict[str, Any]], effective_from: str | None, effective_to: str | None, today: dt.date
) -> Iterator[tuple[str, Any, str]]:
    """Why citations are refused: (field, value, message) for each that resolves to nothing, names a
    revision in the future, lets the rule apply before the law itself took effect, or quotes a text
    the rule outlives."""
    first = {c["law"]: k for k, c in reversed(list(enumerate(citations)))}  # say each law's date once
    for k, c in enumerate(citations):
        field = f"basis[{k}]"
        law = laws().get(c["law"])
        if law is None:
            yield f"{field}.law", c["law"], "is not a law of the law table (layers/law.yaml)"
            continue
        if "level" in c and c["level"] != law["level"]:
            yield f"{field}.level", c["level"], f"is not the level of {c['law']} ({law['level']})"
        if not _REVISION.match(c["revision"]):
            yield f"{field}.revision", c["revision"], "is not a date YYYY-MM-DD (or a year)"
            continue
        dated = (
            c["revision"] if len(c["revision"]) == 10 else f"{c['revision']}-01-01"
        )  # a year: its first day
        if dated > today.isoformat():
            yield f"{field}.revision", c["revision"], f"is in the future (today is {today.isoformat()})"
            continue
        revision = law["revisions"].get(c["revision"])
        if revision is None:
            known = ", ".join(law["revisions"])
            yield f"{field}.revision", c["revision"], f"is not a revision of {c['law']} held ({known})"
            continue
        if c["article"] not in revision["articles"]:
            yield f"{field}.article", c["article"], f"does not exist in {c['law']} ({c['revision']})"
            continue
        if quote(c) is None and revision["articles"][c["article"]] is not None:
            part = "item" if c.get("item") else "clause"
            yield f"{field}.{part}", c[part], f"does not exist in {c['law']} {c['article']}"
        if (
            effective_from
            and law.get("effective")
            and effective_from < law["effective"]
            and k == first[c["law"]]
        ):
            yield "effective_from", effective_from, f"is before {c['law']} took effect ({law['effective']})"
        replaced = revision.get("in_force_to")
        if replaced and (not effective_to or effective_to > replaced):
            why = f"the rule quotes {c['law']} ({c['revision']}), in force only until {replaced}"
            yield "effective_to", effective_to, why


def quote(c: dict[str, Any]) -> str | None:
    """The sentence a citation names: the article, its clause, or the clause's lead-in and the item.
    ``None`` when the text is not held or the clause or item does not exist."""
    text = laws()[c["law"]]["revisions"][c["revision"]]["articles"][c["article"]]
    if text is None:
        return None
    clauses = _clauses(text)
    if c.get("item") is not None:
        number = chinese_number(c["item"])
        if c.get("clause") is not None and c["clause"] > len(clauses):
            return None
        candidates = [clauses[c["clause"] - 1]] if c.get("clause") is not None else clauses
        for lead, items in candidates:
            if number in items:
                return f"{lead}……{items[number]}"
        return None
    if c.get("clause") is not None:
        if c["clause"] > len(clauses):
            return None
        lead, items = clauses[c["clause"] - 1]
        return "\n".join([lead, *items.values()])
    return text


def _clauses(text: str) -> list[tuple[str, dict[str, str]]]:
    """An article's clauses (款): each paragraph with the items (项) listed under it."""
    clauses: list[tuple[str, dict[str, str]]] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        item = _ITEM.match(line)
        if item and clauses:
            clauses[-1][1][item.group(1)] = line
        else:
            clauses.append((line, {}))
    return clauses


def label(c: dict[str, Any]) -> str:
    """《娱乐场所管理办法》第六条第一款第（四）项（2022-05-13文本）."""
    law = laws()[c["law"]]
    # Standards go by number and title (GB 50016《建筑设计防火规范》), the rest by title.
    name = f"{c['law']}《{law['name']}》" if c["law"].startswith("GB") else f"《{law['name']}》"
    parts = [name, c["article"] if c["article"] != "正文" else ""]
    if c.get("clause"):
        parts.append(f"第{chinese_number(c['clause'])}款")
    if c.get("item"):
        parts.append(f"第（{chinese_number(c['item'])}）项")
    return "".join(parts) + f"（{c['revision']}文本）"


@functools.cache
def _resolved(basis_json: str) -> tuple[dict[str, Any], ...]:
    out = []
    for c in json.loads(basis_json):
        law = laws()[c["law"]]
        revision = law["revisions"][c["revision"]]
        out.append(
            {
                "law": law["name"],
                "level": law["level"],
                "revision": c["revision"],
                "in_force": revision.get("in_force"),
                "article": c["article"],
                "clause": c.get("clause"),
                "item": c.get("item"),
                "label": label(c),
                "text": quote(c),
            }
        )
    return tuple(out)


def resolve(basis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each citation with the law's name and level, its label and the sentence it quotes."""
    return list(_resolved(json.dumps(basis, ensure_ascii=False, sort_keys=True)))


def basis_text(basis: list[dict[str, Any]]) -> str:
    """The citations as one line: 《…》第九条（2022-03-29文本）；…"""
    return "；".join(c["label"] for c in _resolved(json.dumps(basis, ensure_ascii=False, sort_keys=True)))


def finding_fields(rule: dict[str, Any]) -> dict[str, Any]:
    """What a finding on ``rule`` says of its law: the basis in one line, each citation quoted, how
    sure the basis is and the department's name and code. Made once per rule (a rule's dict lives
    as long as its snapshot) and shared, like the rest of a result: nothing changes it."""
    held = _FIELDS.get(id(rule))
    if held is not None and held[0] is rule:
        return held[1]
    fields = _finding_fields(rule)
    _FIELDS[id(rule)] = (rule, fields)  # the rule is kept with them, so its id is not reused
    while len(_FIELDS) > _FIELDS_HELD:
        _FIELDS.popitem(last=False)
    return fields


_FIELDS: OrderedDict[int, tuple[dict[str, Any], dict[str, Any]]] = OrderedDict()
_FIELDS_HELD = 4096  # rules of a few dozen versions


def _finding_fields(rule: dict[str, Any]) -> dict[str, Any]:
    code = rule["department"]
    legacy = isinstance(rule["basis"], str)  # a rules version stored before citations: its free text
    return {
        "basis": rule["basis"] if legacy else basis_text(rule["basis"]),
        "citations": [] if legacy else resolve(rule["basis"]),
        "certainty": rule.get("certainty") or "unverified",  # a rule stored before certainty
        "department": departments().get(code, code),
        "department_code": code,
    }


@functools.cache
def prohibited_list_fields() -> dict[str, Any]:
    """What a finding on a prohibited-address list says of its law: the basis and its quote."""
    return {"basis": basis_text(PROHIBITED_LIST_BASIS), "citations": resolve(PROHIBITED_LIST_BASIS)}


def capped(rule: dict[str, Any], severity: str) -> str:
    """A finding on a local-default figure never comes out stronger than ``review``."""
    return "review" if rule.get("certainty") == "local_default" else severity


def mentions_distance(text: str, meters: float) -> bool:
    """Whether an article states the distance: "200米", "200 米", "二百米", "200m"."""
    n = int(meters) if float(meters).is_integer() else None
    forms = [f"{meters:g}米", f"{meters:g} 米", f"{meters:g}m"]
    if n is not None and 0 < n < 1000 and n % 10 == 0:
        hundreds, rest = divmod(n, 100)
        spoken = (chinese_number(hundreds) + "百" if hundreds else "") + (
            chinese_number(rest // 10) + "十" if rest else ""
        )
        forms.append(spoken + "米")
    return any(form in text for form in forms)
