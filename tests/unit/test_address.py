"""Address resolution against the labelled Laoshan set (tests/data/address_cases.csv)."""

import csv
from collections import Counter
from pathlib import Path

import pytest

from siteselect.address import LEVELS, Gazetteer, chinese_to_int, normalize
from siteselect.errors import InvalidInputError
from siteselect.store import Store

CASES = Path(__file__).parents[1] / "data" / "address_cases.csv"


@pytest.fixture(scope="module")
def gazetteer(demo_db) -> Gazetteer:
    store = Store(demo_db)
    return Gazetteer(
        store.read_layer("house_numbers"), store.read_layer("buildings"), store.read_layer("districts")
    )


def _found(match) -> str:
    return {
        "house_number": match.house_number_id, "building": match.building_id, "road": match.road,
        "street": match.street, "none": "",
    }[match.level] or ""  # fmt: skip


def test_labelled_set_precision_and_recall_per_level(gazetteer, capsys):
    cases = list(csv.DictReader(CASES.open(encoding="utf-8")))
    assert len(cases) >= 150
    right, predicted, expected = Counter(), Counter(), Counter()
    misses = []
    for case in cases:
        match = gazetteer.resolve(case["query"])
        predicted[match.level] += 1
        expected[case["level"]] += 1
        if match.level == case["level"] and _found(match) == case["expect"]:
            right[match.level] += 1
        else:
            misses.append((case["query"], case["level"], match.level, _found(match)))
    with capsys.disabled():
        print(f"\n{'level':13} {'cases':>5} {'precision':>9} {'recall':>7}")
        for level in LEVELS:
            precision = right[level] / predicted[level] if predicted[level] else 1.0
            recall = right[level] / expected[level] if expected[level] else 1.0
            print(f"{level:13} {expected[level]:>5} {precision:>9.3f} {recall:>7.3f}")
    for level in LEVELS:
        assert expected[level] >= 15, f"too few {level} cases"
        assert right[level] >= 0.95 * predicted[level], (level, misses)
        assert right[level] >= 0.9 * expected[level], (level, misses)


def test_confidence_drops_with_level_and_with_slips(gazetteer):
    number = next(n for n in gazetteer.numbers["苗岭路"] if "-" not in n)
    exact = gazetteer.resolve(f"崂山区苗岭路{number}号")
    slip = gazetteer.resolve(f"崂山区描岭路{number}号")
    road = gazetteer.resolve("苗岭路9999号")
    street = gazetteer.resolve("中韩街道")
    assert exact.level == slip.level == "house_number"
    assert exact.house_number_id == slip.house_number_id
    assert exact.confidence > slip.confidence > road.confidence > street.confidence > 0
    assert slip.notes == ["road read as 苗岭路"]
    assert road.notes == ["no house number 9999 on 苗岭路"]


def test_another_district_is_not_matched(gazetteer):
    match = gazetteer.resolve("青岛市市南区香港中路10号")
    assert match.level == "none" and match.lon is None
    assert "市南区" in match.notes[0]


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("山东省青岛市崂山区香港东路一百九十五号", "香港东路195号"),
        ("香港东路１９５号３栋二单元５０１室", "香港东路195号3号楼2单元501室"),
        ("劲松七路十二号", "劲松七路12号"),
        ("株洲路153号之一", "株洲路153-1号"),
        ("苗岭路28号A座", "苗岭路28号A座"),
        ("海尔路 1 号（海尔工业园）", "海尔路1号海尔工业园"),
    ],
)
def test_normalize(text, normal):
    assert normalize(text) == normal


def test_chinese_numerals():
    assert [chinese_to_int(t) for t in ("一", "十", "十五", "二十", "一百零八", "二〇一", "三千")] == [
        1, 10, 15, 20, 108, 201, 3000,
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["", "   ", "路" * 201])
def test_unusable_text_is_refused(gazetteer, text):
    with pytest.raises(InvalidInputError):
        gazetteer.resolve(text)


def test_an_address_with_no_such_number_is_offered_the_nearest_numbers_on_its_road(gazetteer):
    found = gazetteer.suggest("崂山区海口路41号", limit=4)
    assert len(found) == 4 and all(s["road"] == "海口路" and s["why"] == "same_road" for s in found)
    gaps = [abs(int(s["number"].split("-")[0]) - 41) for s in found]
    assert gaps == sorted(gaps) and gaps[0] <= 2
    assert all(gazetteer.resolve(s["address"]).house_number_id == s["house_number_id"] for s in found)


def test_a_road_name_written_wrongly_is_offered_the_roads_it_may_mean(gazetteer):
    slip = gazetteer.suggest("嗨口路40号", limit=3)  # 嗨 for 海: sounds alike
    assert slip and {s["road"] for s in slip} == {"海口路"} and {s["why"] for s in slip} == {"similar_road"}
    begun = gazetteer.suggest("海口", limit=3)  # no road word yet: roads whose names hold it
    assert begun and all(s["road"].startswith("海口") for s in begun)


def test_nothing_like_any_road_gets_no_suggestions_and_bad_text_is_refused(gazetteer):
    assert gazetteer.suggest("不存在的地方") == []
    for bad in ("", "   ", "路" * 201):
        with pytest.raises(InvalidInputError, match="q: "):
            gazetteer.suggest(bad)
