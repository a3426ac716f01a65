"""GB/T 4754-2017 codes and the industry picker."""

import pytest

from siteselect import industry
from siteselect.errors import InvalidInputError

SECTIONS_LISTED_IN_FULL = "FHLMOPR"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("奶茶", "6239"), ("我想开一家奶茶店", "6239"), ("咖啡", "6232"), ("网吧", "9013"),
        ("火锅", "6210"), ("饭店", "6210"), ("KTV", "9011"), ("ktv", "9011"), ("超市", "5212"),
        ("宠物医院", "8222"), ("理发店", "8040"), ("6232", "6232"), ("H6233", "6233"),
    ],
)  # fmt: skip
def test_everyday_words_and_codes_find_their_class(query, expected):
    results = industry.search(query)
    assert results[0]["code"] == expected
    assert results[0]["name"] and results[0]["section_name"]


def test_a_division_prefix_lists_its_classes():
    codes = [r["code"] for r in industry.search("62", limit=50)]
    assert codes == ["6210", "6220", "6231", "6232", "6233", "6239", "6241", "6242", "6291", "6299"]


def test_every_class_of_the_required_sections_is_listed():
    table = industry.industry_table()
    for section in SECTIONS_LISTED_IN_FULL:
        divisions = [f"{d:02d}" for d in industry.SECTIONS[section]]
        for division in divisions:
            assert division in table, f"division {division} of section {section} missing"
            assert any(c.code.startswith(division) for c in industry.classes())


def test_every_class_a_rule_names_exists(demo_db):
    from siteselect.store import Store

    rules = Store(demo_db).read_layer("rules")
    table = industry.industry_table()
    for prefixes in rules["industries"]:
        for prefix in prefixes:
            assert prefix == "*" or prefix in table, prefix


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("6620", "no such class in division 66"),
        ("5228", "no such class in division 52"),
        ("62", "is not a GB/T 4754 class code"),
        ("9910", "division 99 does not exist"),
        ("A6210", "belongs to section H, not A"),
    ],
)
def test_malformed_or_unknown_codes_are_refused(code, words):
    with pytest.raises(InvalidInputError, match=words):
        industry.normalize_code(code)


def test_classes_outside_fully_listed_divisions_pass_on_their_division():
    assert industry.normalize_code("3311") == "3311"  # manufacturing: not all listed, division exists


def test_empty_query_is_refused():
    with pytest.raises(InvalidInputError, match="empty"):
        industry.search("  ")


def test_prefix_matching_of_sections_and_divisions():
    assert industry.matches("1310", "C") and industry.matches("4390", "C")
    assert not industry.matches("4410", "C")
    assert industry.matches("6210", "62") and not industry.matches("6110", "62")


@pytest.mark.parametrize(
    ("text", "code"), [("6232", "6232"), ("H6232", "6232"), ("奶茶", "6239"), ("KTV", "9011")]
)
def test_resolve_code_or_words(text, code):
    assert industry.resolve(text) == code


@pytest.mark.parametrize(
    ("text", "words"), [("62", "not a GB/T 4754 class code"), ("完全无关的词语", "no GB/T")]
)
def test_resolve_refuses_what_is_not_one_class(text, words):
    with pytest.raises(InvalidInputError, match=words):
        industry.resolve(text)
