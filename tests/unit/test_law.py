"""The law behind the rules: citations resolve, quotes hold the rule's figure, the text in force on the
as-of date is the one applied and quoted, local defaults say so, and each added restriction works."""

import datetime as dt

import pytest
import shapely
import yaml

from siteselect import law
from siteselect.check import Checker, Premises
from siteselect.errors import LayerValidationError
from siteselect.index import Catalog
from siteselect.load import load_file
from siteselect.specs import layers_dir
from siteselect.store import Store

GOOD = {
    "id": "r1",
    "title": "网吧不得设在居民住宅楼内",
    "industries": ["9013"],
    "kind": "building_use_not_in",
    "params": {"uses": ["residential"]},
    "severity": "prohibited",
    "certainty": "verified",
    "basis": [{"law": "网吧条例", "revision": "2022-03-29", "article": "第九条"}],
    "department": "culture",
    "effective_from": "2002-11-15",
}


@pytest.fixture(scope="module")
def checker(demo_db) -> Checker:
    return Checker(Catalog(Store(demo_db)).current())


def _catalog() -> list[dict]:
    return yaml.safe_load((layers_dir() / "rules.yaml").read_text(encoding="utf-8"))["rules"]


def _load(tmp_path, sqlite_url, **change):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump([GOOD | change], allow_unicode=True), encoding="utf-8")
    return load_file(Store(sqlite_url), "rules", path)


# ---- the catalog --------------------------------------------------------------------------------


def test_every_citation_of_the_catalog_resolves_in_the_law_table():
    for rule in _catalog():
        problems = list(
            law.citation_problems(
                rule["basis"], rule.get("effective_from"), rule.get("effective_to"), dt.date(2026, 11, 1)
            )
        )
        assert problems == [], rule["id"]
        assert rule["department"] in law.departments(), rule["id"]


def test_every_verified_distance_rule_quotes_its_own_figure():
    checked = 0
    for rule in _catalog():
        meters = rule["params"].get("meters")
        if meters is None or rule["certainty"] != "verified":
            continue
        quotes = [c["text"] or "" for c in law.resolve(rule["basis"])]
        assert any(law.mentions_distance(q, meters) for q in quotes), (rule["id"], meters, quotes)
        checked += 1
    assert checked >= 2  # the internet café's 200米 and the animal clinic's 二百米 at least


def test_a_distance_figure_is_recognised_in_digits_and_in_chinese():
    assert law.mentions_distance("不少于二百米", 200) and law.mentions_distance("校园周围200米范围内", 200)
    assert law.mentions_distance("周边50米范围内", 50) and law.mentions_distance("五十米", 50)
    assert not law.mentions_distance("校园周围200米范围内", 100)


def test_a_quote_is_the_clause_or_item_named():
    c = {"law": "娱乐办法", "revision": "2022-05-13", "article": "第六条", "clause": 1, "item": 4}
    assert (
        law.quote(c)
        == "娱乐场所不得设立在下列地点：……（四）《中华人民共和国未成年人保护法》规定的学校、幼儿园周围；"
    )
    old = law.quote(c | {"revision": "2013-02-04"})
    assert old is not None and "幼儿园" not in old and "中小学校周围" in old
    assert law.quote(c | {"clause": 2, "item": None}) == (
        "娱乐场所与学校、幼儿园、医院、机关距离及其测量方法由省级人民政府文化和旅游主管部门规定。"
    )
    assert law.label(c) == "《娱乐场所管理办法》第六条第一款第（四）项（2022-05-13文本）"


# ---- bad rules files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"basis": [{"law": "娱乐场所条例", "revision": "2020-11-29", "article": "第七条"}]},
            "basis[0].law",
            "not a law of the law table",
        ),
        (
            {"basis": [{"law": "网吧条例", "revision": "2022-03-29", "article": "第九十九条"}]},
            "basis[0].article",
            "does not exist",
        ),
        (
            {"basis": [{"law": "网吧条例", "revision": "2099-01-01", "article": "第九条"}]},
            "basis[0].revision",
            "in the future",
        ),
        (
            {"basis": [{"law": "网吧条例", "revision": "2022-03-29", "article": "第九条", "item": 7}]},
            "basis[0].item",
            "does not exist",
        ),
        ({"effective_from": "1999-01-01"}, "effective_from", "before 网吧条例 took effect (2002-11-15)"),
        ({"department": "culture-bureau"}, "department", "not a department code"),
        (
            {"basis": [{"law": "网吧条例", "revision": "2022-03-29", "article": "第九条", "clause": 3}]},
            "basis[0].clause",
            "does not exist",
        ),
        (
            {"basis": [{"law": "网吧200米复函", "revision": "2099", "article": "正文"}]},
            "basis[0].revision",
            "in the future",
        ),
        (
            {
                "basis": [{"law": "娱乐办法", "revision": "2013-02-04", "article": "第六条", "item": 1}],
                "effective_from": "2013-03-11",
            },
            "effective_to",
            "in force only until 2022-05-12",
        ),
        ({"basis": "《网吧条例》第九条"}, "basis", "not a list of citations"),
        (
            {"kind": "min_distance", "params": {"zone_kinds": ["middle_school"], "meters": 300}},
            "certainty",
            "no cited text states 300米",
        ),
    ],
)
def test_a_rules_file_with_a_bad_citation_is_refused_naming_rule_and_field(
    tmp_path, sqlite_url, change, field, words
):
    with pytest.raises(LayerValidationError) as caught:
        _load(tmp_path, sqlite_url, **change)
    (problem,) = caught.value.problems
    assert problem.field == field and words in problem.message, str(problem)
    assert field == "basis" or "rule r1" in problem.message


def test_a_good_rules_file_loads(tmp_path, sqlite_url):
    assert _load(tmp_path, sqlite_url).layer == "rules"


# ---- findings -----------------------------------------------------------------------------------


def _zone(checker: Checker, kind: str, name: str | None = None) -> dict:
    zones = checker.zones.features
    rows = zones[(zones["kind"] == kind) & ((zones["name"] == name) if name else True)]
    return rows.iloc[0]


def _check(checker: Checker, code: str, point: shapely.Point, day: str = "2026-06-01", **kw) -> dict:
    return checker.check(Premises.parse(industry=code, lon=point.x, lat=point.y, as_of=day, **kw))


def _finding(result: dict, rule_id: str) -> dict | None:
    return next((r for r in result["reasons"] if r["id"] == rule_id and r["outcome"] == "violated"), None)


def _away(checker: Checker, kinds: set[str], metres: float) -> shapely.Point:
    """A building's point farther than ``metres`` from every zone of ``kinds``."""
    zones = checker.zones.features
    near = shapely.union_all(checker.zones.local[zones["kind"].isin(kinds).to_numpy()])
    buildings = checker.buildings.features
    local = checker.snap.frame.to_local(buildings.geometry.representative_point().to_numpy())
    far = shapely.distance(local, near) > metres
    return buildings.geometry[far].iloc[0].representative_point()


def test_every_finding_quotes_the_article_it_rests_on(checker):
    cafe_zone = _zone(checker, "primary_school")
    result = _check(checker, "9013", cafe_zone.geometry.representative_point())
    finding = _finding(result, "R01-school-200m")
    assert finding is not None and finding["certainty"] == "verified"
    first = finding["citations"][0]
    assert first["law"] == "互联网上网服务营业场所管理条例" and first["article"] == "第九条"
    assert first["revision"] == "2022-03-29" and "200米" in first["text"] and first["level"] == "行政法规"
    assert finding["department"] == "崂山区文化和旅游局" and finding["department_code"] == "culture"


def test_an_entertainment_venue_near_a_kindergarten_before_and_after_the_2022_revision(checker):
    kindergarten = _zone(checker, "kindergarten")
    others = {"primary_school", "middle_school", "hospital", "government"}
    zones = checker.zones.features
    away = shapely.union_all(checker.zones.local[zones["kind"].isin(others).to_numpy()])
    rows = (zones["kind"] == "kindergarten").to_numpy()
    far = shapely.distance(checker.zones.local[rows], away) > 260
    kindergarten = zones[rows][far].iloc[0]
    at = kindergarten.geometry.representative_point()
    before = _check(checker, "9011", at, "2022-05-12")
    after = _check(checker, "9011", at, "2022-05-13")
    assert _finding(before, "R02-surroundings-2013") is None  # kindergartens were not in 第六条(四)
    assert {c["id"] for c in before["checked"]} >= {"R02-surroundings-2013"}
    finding = _finding(after, "R02-surroundings")
    assert finding is not None and finding["severity"] == "review"
    assert "幼儿园" in finding["citations"][0]["text"] and finding["citations"][0]["revision"] == "2022-05-13"


def test_the_text_in_force_on_the_day_is_the_one_quoted(checker):
    school = _zone(checker, "primary_school").geometry.representative_point()
    before = _finding(_check(checker, "9011", school, "2020-01-01"), "R02-surroundings-2013")
    after = _finding(_check(checker, "9011", school, "2023-01-01"), "R02-surroundings")
    assert before is not None and after is not None
    assert (
        "义务教育法" in before["citations"][0]["text"] and before["citations"][0]["revision"] == "2013-02-04"
    )
    assert "未成年人保护法" in after["citations"][0]["text"]


def test_every_entertainment_rule_quotes_the_measures_text_of_the_day(checker):
    homes = checker.buildings.features
    home = homes[homes["use"] == "residential"].geometry.iloc[0].representative_point()
    before = _finding(_check(checker, "9011", home, "2020-01-01"), "R02-residential-use-2013")
    after = _finding(_check(checker, "9011", home, "2023-01-01"), "R02-residential-use")
    assert before is not None and after is not None
    assert [c["revision"] for c in before["citations"]] == ["2020-11-29", "2013-02-04"]
    assert [c["revision"] for c in after["citations"]] == ["2020-11-29", "2022-05-13"]
    assert "（2013-02-04文本）" in before["basis"]


def test_a_local_default_distance_says_so_and_asks_only_for_review(checker):
    school = _zone(checker, "middle_school").geometry.representative_point()
    finding = _finding(_check(checker, "6233", school), "R04-minors-200m")
    assert finding is not None and finding["certainty"] == "local_default"
    assert finding["severity"] == "review"
    assert "本地默认距离，请以主管部门认定为准" in finding["message_zh"]
    assert "local default" in finding["message_en"]


def test_a_local_default_rule_marked_prohibited_still_comes_out_as_review():
    rule = {"certainty": "local_default"}
    assert law.capped(rule, "prohibited") == "review"
    assert law.capped({"certainty": "verified"}, "prohibited") == "prohibited"


# One premises inside the zone the rule names, and one away from every zone of its kinds.
ADDED = [
    ("R02-crowded-places", "9011", "station", {}),
    ("R02-hazardous-store", "9012", "hazardous_store", {}),
    ("R14-fireworks-no-discharge", "5299", "no_discharge", {}),
    ("R17-water-source-quasi", "2710", "water_source_quasi", {}),
    ("R19-scenic-hazardous", "5942", "scenic_area", {}),
    ("R19-scenic-cemetery", "8080", "scenic_area", {}),
    ("R20-spray-painting", "8111", "residential_compound", {}),
    ("R21-industrial-noise", "3311", "noise_sensitive", {}),
    ("R15-animal-clinic-compound", "8222", "residential_compound", {}),
    ("R20-odour-residential", "2710", "residential_compound", {}),
    ("R15-animal-clinic-200m", "8222", "slaughterhouse", {}),
    ("R15-animal-clinic-200m", "8222", "animal_farm", {}),
]


@pytest.mark.parametrize(("rule_id", "code", "kind", "extra"), ADDED, ids=[f"{a[0]}-{a[2]}" for a in ADDED])
def test_an_added_restriction_catches_a_premises_inside_and_passes_one_away(
    checker, rule_id, code, kind, extra
):
    inside = _zone(checker, kind).geometry.representative_point()
    finding = _finding(_check(checker, code, inside, **extra), rule_id)
    assert finding is not None, rule_id
    assert finding["citations"] and all(c["text"] for c in finding["citations"])
    away = _check(checker, code, _away(checker, {kind}, 300), **extra)
    assert _finding(away, rule_id) is None and rule_id in {c["id"] for c in away["checked"]}


def test_an_internet_cafe_two_floors_down_is_flagged_by_the_fire_code(checker):
    home = checker.buildings.features.iloc[0].geometry.representative_point()
    deep = _finding(_check(checker, "9013", home, floor=-2), "R03-entertainment-basement-fire")
    assert deep is not None and deep["severity"] == "review" and deep["certainty"] == "unverified"
    assert deep["citations"][0]["text"] is None  # the standard's text is not held: said, not invented
    assert _finding(_check(checker, "9013", home, floor=-1), "R03-entertainment-basement-fire") is None


def test_the_legal_summary_page_escapes_rule_titles_and_article_texts(checker):
    from siteselect import legal_summary

    summary = legal_summary.industry_rules(checker, "9013", dt.date(2026, 1, 1))
    hostile = "<script>alert(1)</script>"
    summary["rules"][0] = summary["rules"][0] | {"title": hostile}
    summary["rules"][0]["citations"] = [{"label": "《网吧条例》", "level": "行政法规", "text": hostile}]
    summary["prohibited_list"] = [
        {
            "reason": hostile,
            "department": hostile,
            "entries": 1,
            "citations": [{"label": hostile, "text": hostile}],
        }
    ]
    page = legal_summary.industry_rules_page(summary)
    assert hostile not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 6


def test_a_rules_version_stored_before_citations_still_reads():
    old = {"basis": "《互联网上网服务营业场所管理条例》第九条", "department": "崂山区文化和旅游局"}
    fields = law.finding_fields(old)
    assert fields["basis"] == old["basis"] and fields["citations"] == []
    assert fields["department"] == "崂山区文化和旅游局" and fields["certainty"] == "unverified"


def test_a_kitchen_in_a_mixed_building_asks_whether_its_floor_adjoins_homes(checker):
    homes = checker.buildings.features
    mixed = homes[homes["use"] == "mixed"].geometry.iloc[0].representative_point()
    office = homes[homes["use"] == "office"].geometry.iloc[0].representative_point()
    finding = _finding(_check(checker, "6210", mixed), "R08-fumes-adjacent-floor")
    assert finding is not None and finding["severity"] == "review"
    assert "商住综合楼内与居住层相邻的商业楼层内" in finding["citations"][0]["text"]
    assert _finding(_check(checker, "6210", office), "R08-fumes-adjacent-floor") is None
