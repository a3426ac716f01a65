"""Write layers/industries.csv: every entry of GB/T 4754-2017 with its level, parent and 说明 text.

The codes, names and 说明 texts are facts of the national standard. They are read from a checked copy
of the whole table (1,971 entries: 20 sections, 97 divisions, 473 groups, 1,381 classes; 1,060 说明
texts), by default ``../shared/reference/data/gbt4754-2017`` beside the project. Run again only when
that copy changes:

    python scripts/make_industries.py [SOURCE_DIR]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "reference" / "data" / "gbt4754-2017"
LEVELS = {"section": 1, "division": 2, "group": 3, "class": 4}


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def build(source: Path) -> list[dict[str, str]]:
    """The entries in the standard's order, each checked against its level and parent."""
    entries = read_rows(source / "industries.csv")
    texts = {row["code"]: row["description"].strip() for row in read_rows(source / "descriptions.csv")}
    codes = {row["code"] for row in entries}
    for row in entries:
        code, level, parent = row["code"], row["level"], row["parent"]
        width = 1 if level == "section" else LEVELS[level]
        if len(code) != width or (parent and parent not in codes) or (level != "section") != bool(parent):
            raise ValueError(f"{source / 'industries.csv'}: entry {code!r} has a bad level or parent")
    unknown = set(texts) - codes
    if unknown:
        raise ValueError(f"{source / 'descriptions.csv'}: 说明 for unknown codes {sorted(unknown)}")
    return [
        {
            "code": row["code"],
            "name": row["name"].strip(),
            "level": row["level"],
            "parent": row["parent"],
            "description": texts.get(row["code"], ""),
        }
        for row in entries
    ]


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else DEFAULT_SOURCE
    rows = build(source)
    out = ROOT / "layers" / "industries.csv"
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["code", "name", "level", "parent", "description"])
        writer.writeheader()
        writer.writerows(rows)
    classes = sum(row["level"] == "class" for row in rows)
    described = sum(bool(row["description"]) for row in rows)
    print(f"{out}: {len(rows)} entries, {classes} classes, {described} with 说明")


if __name__ == "__main__":
    main(sys.argv[1:])
