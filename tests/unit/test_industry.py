"""GB/T 4754-2017 codes and the industry picker."""

import csv
from collections import Counter

import pytest

from siteselect import industry
from siteselect.errors import InvalidInputError
from tests.conftest import SHARED_DATA

REFERENCE = SHARED_DATA / "gbt4754-2017"


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


def test_the_table_holds_every_entry_of_the_standard():
    table = industry.industry_table()
    levels = Counter(entry.level for entry in table.values())
    assert levels == {"section": 20, "division": 97, "group": 473, "class": 1381}
    assert table["3971"].name == "电子真空器件制造"
    assert table["2611"].name == "无机酸制造"
    assert table["2612"].description == "指烧碱、纯碱等生产活动"
    assert sum(bool(entry.description) for entry in table.values()) == 1060
    for section, divisions in industry.SECTIONS.items():
        assert all(f"{d:02d}" in table for d in divisions), section
    for entry in table.values():  # every entry hangs from the one above it
        if entry.level != "section":
            assert entry.parent in table and (
                entry.level == "division" or entry.code.startswith(entry.parent)
            )


@pytest.mark.skipif(
    not (REFERENCE / "industries.csv").is_file(),
    reason="the shared reference data (../shared/reference/data) is not beside this checkout",
)
def test_every_class_of_the_reference_is_in_the_table_with_its_name():
    with (REFERENCE / "industries.csv").open(encoding="utf-8") as f:
        reference = {row["code"]: row["name"] for row in csv.DictReader(f) if row["level"] == "class"}
    table = industry.industry_table()
    assert len(reference) == 1381
    assert {code: table[code].name for code in reference if code in table} == reference


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
        ("6620", "no such class in group 662"),
        ("5228", "no such class in group 522"),
        ("62", "is not a GB/T 4754 class code"),
        ("9910", "division 99 does not exist"),
        ("A6210", "belongs to section H, not A"),
    ],
)
def test_malformed_or_unknown_codes_are_refused(code, words):
    with pytest.raises(InvalidInputError, match=words):
        industry.normalize_code(code)


def test_manufacturing_classes_are_listed_and_checked_like_any_other():
    assert industry.normalize_code("3971") == "3971"
    with pytest.raises(InvalidInputError, match="no such class in group 397"):
        industry.normalize_code("3978")


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


@pytest.mark.parametrize(
    ("cell", "prefixes"),
    [
        ("全部行业", ["*"]), ("所有行业", ["*"]), ("*", ["*"]), ("餐饮", ["62"]),
        ("娱乐场所;6210", ["901", "6210"]),
        ("H", ["H"]), ("5232、5239", ["5232", "5239"]), ("5232，5239；62", ["5232", "5239", "62"]),
        ("正餐服务", ["6210"]), ("餐饮业", ["62"]), ("网吧 KTV", ["9013", "9011"]), ("6210;6210", ["6210"]),
        ("服装加工", ["181", "182"]), ("服饰制造", ["1830"]), ("宠物店", ["5297", "8223"]),
    ],
)  # fmt: skip
def test_a_departments_cell_becomes_rule_prefixes(cell, prefixes):
    assert industry.parse_industries(cell) == prefixes


def test_a_cell_word_that_fits_several_entries_is_refused_with_the_candidates():
    with pytest.raises(industry.AmbiguousIndustryError) as caught:
        industry.parse_industries("6210;培训机构")
    assert [c["code"] for c in caught.value.candidates] == ["8391", "8392", "8393", "8399"]
    assert "8391 职业技能培训" in str(caught.value) and "'培训机构'" in str(caught.value)


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("完全无关的词语", "'完全无关的词语': no GB/T 4754 entry matches"),
        ("5228", "no such class in group 522"),
        (" ；", "no industry"),
    ],
)
def test_a_cell_naming_no_industry_is_refused_naming_the_word(cell, words):
    with pytest.raises(InvalidInputError, match=words):
        industry.parse_industries(cell)


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("服装加工", ["1811", "1819", "1821", "1829"]),
        ("电子元件加工", ["3981", "3982", "3983", "3984", "3989"]),
        ("培训机构", ["8391", "8392", "8393", "8399"]),
        ("餐饮", ["6210", "6220", "6231", "6232", "6233", "6239", "6241", "6242", "6291", "6299"]),
    ],
)
def test_words_that_fit_several_classes_are_refused_with_every_candidate(text, codes):
    with pytest.raises(industry.AmbiguousIndustryError) as caught:
        industry.resolve(text)
    assert [c["code"] for c in caught.value.candidates] == codes
    assert all(c["name"] == industry.industry_table()[c["code"]].name for c in caught.value.candidates)
    assert [r["code"] for r in industry.search(text, 50)][: len(codes)] == codes


@pytest.mark.parametrize(
    ("text", "code"),
    [("面包加工", "1411"), ("面包店", "5222"), ("服装批发", "5132"), ("服装店", "5232"), ("无机酸", "2611")],
)
def test_what_the_words_say_the_business_does_decides_between_making_and_selling(text, code):
    assert industry.resolve(text) == code


def test_every_keyword_names_entries_of_the_table():
    table = industry.industry_table()
    for word, codes in industry._keywords().items():
        assert codes and all(code in table for code in codes), word


@pytest.mark.parametrize("text", ["奶茶\x00", "\ud800", "网吧\x1b", "奶" * 201])
def test_words_no_one_could_type_are_refused(text):
    for use in (industry.resolve, industry.parse_industries, industry.search):
        with pytest.raises(InvalidInputError, match=r"is not text|more than 200"):
            use(text)


def test_a_code_shaped_query_naming_no_entry_finds_nothing():
    assert industry.search("9910") == [] and industry.search("5228") == []
