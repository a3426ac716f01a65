"""How well everyday phrases find their GB/T 4754-2017 classes: precision and recall on a labelled set.

For each phrase the search answers a set of classes: the one it resolves to, or the candidates it
offers when the words fit several, or none. Precision is the share of the answered classes that are
expected (over phrases with an answer); recall is the share of the expected classes answered.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from siteselect import industry

PHRASES = Path(__file__).parents[1] / "data" / "industry_phrases.csv"
FLOOR = 0.9


def _labelled() -> list[dict[str, str]]:
    with PHRASES.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def _expected(row: dict[str, str]) -> set[str]:
    return {code for entry in row["expected"].split(";") for code in industry.classes_under(entry)}


def measure(rows: list[dict[str, str]]) -> dict[str, float]:
    precision, recall, exact = [], [], 0
    for row in rows:
        answered, expected = set(industry.candidates(row["phrase"])), _expected(row)
        right = len(answered & expected)
        if answered:
            precision.append(right / len(answered))
        recall.append(right / len(expected))
        exact += answered == expected
    return {
        "phrases": len(rows),
        "precision": sum(precision) / len(precision),
        "recall": sum(recall) / len(recall),
        "exact": exact / len(rows),
    }


def test_the_labelled_set_is_large_and_names_real_classes():
    rows = _labelled()
    assert len(rows) >= 300
    assert len({row["phrase"] for row in rows}) == len(rows)
    for row in rows:
        assert row["split"] in ("tuning", "held-out")
        for entry in row["expected"].split(";"):
            assert entry in industry.industry_table(), row


@pytest.mark.parametrize("split", ["tuning", "held-out", "all"])
def test_precision_and_recall_of_everyday_phrases(split):
    rows = [row for row in _labelled() if split in ("all", row["split"])]
    figures = measure(rows)
    print(
        f"{split}: "
        + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())
    )
    assert figures["precision"] >= FLOOR and figures["recall"] >= FLOOR, figures


@pytest.mark.parametrize(
    "phrase", ["服装加工", "电子元件加工", "培训机构", "硫酸生产", "盐酸制造", "无机酸制造厂", "硝酸生产"]
)
def test_the_cases_that_went_wrong_before_are_labelled_and_right(phrase):
    row = next(row for row in _labelled() if row["phrase"] == phrase)
    assert set(industry.candidates(phrase)) == _expected(row)


if __name__ == "__main__":  # python -m tests.unit.test_industry_phrases: the figures, per split
    for name in ("tuning", "held-out"):
        print(name, measure([row for row in _labelled() if row["split"] == name]))
