"""A legal summary per industry: every rule and prohibited-list condition that can apply to a class,
with the article text each rests on — what an entrepreneur reads before choosing premises.

Prohibited-list entries are summarised by their reason and department, never listed by address: the
list is the departments' to publish, not something to rebuild by asking class after class.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2

from siteselect import industry, law
from siteselect.check import Checker, today
from siteselect.labels import en, zh


def industry_rules(checker: Checker, code: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """The rules in force on ``as_of`` (today by default) that name the class, each with its
    citations quoted, and the conditions of the prohibited-address list that name it."""
    code = industry.normalize_code(code)
    day = as_of or today()
    rules = [_rule(r) for r in checker.rules_for(code, day)]
    rules.sort(key=lambda r: (r["severity"] != "prohibited", r["id"]))
    return {
        "industry": industry.describe(code),
        "as_of": day.isoformat(),
        "rules": rules,
        "prohibited_list": _prohibited_list(checker, code, day.isoformat()),
    }


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    kinds = (rule["params"] or {}).get("zone_kinds", [])
    return {
        "id": rule["id"],
        "title": rule["title"],
        "kind": rule["kind"],
        "severity": law.capped(rule, rule["severity"]),
        "meters": (rule["params"] or {}).get("meters"),
        "zone_kinds": [
            {"kind": k, "name_zh": zh("zone_kinds", k), "name_en": en("zone_kinds", k)} for k in kinds
        ],
        "effective_from": rule["effective_from"],
        "effective_to": rule["effective_to"],
        "districts": rule.get("districts") or [],  # a district's own rule: where it applies
        **law.finding_fields(rule),
    }


def _prohibited_list(checker: Checker, code: str, day: str) -> list[dict[str, Any]]:
    entries = checker.prohibited.features.drop(columns="geometry").to_dict("records")
    counts: Counter[tuple[str, str]] = Counter(
        (e["reason"], e["department"])
        for e in entries
        if (not e.get("effective_from") or e["effective_from"] <= day)
        and (not e.get("effective_to") or day <= e["effective_to"])
        and any(industry.matches(code, p) for p in e["industries"])
    )
    return [
        {"reason": reason, "department": dept, "entries": n, **law.prohibited_list_fields()}
        for (reason, dept), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # titles, reasons and texts come from data files
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("legal.html")


def industry_rules_page(summary: dict[str, Any]) -> str:
    """The summary as a page, Chinese first with an English switch."""
    return _template().render(
        s=summary, local_default_zh=law.LOCAL_DEFAULT_ZH, local_default_en=law.LOCAL_DEFAULT_EN
    )
