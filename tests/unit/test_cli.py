"""The command line, run in-process as a user would type it."""

import geopandas as gpd
import pytest

from siteselect.cli import main
from siteselect.demo import LOAD_ORDER
from siteselect.store import Store


def test_load_layers_export(tmp_path, sqlite_url, demo_files, capsys):
    assert main(["--database-url", sqlite_url, "load", "parks", str(demo_files["parks"])]) == 0
    assert "parks: version 1, 5 features" in capsys.readouterr().out
    assert main(["--database-url", sqlite_url, "layers"]) == 0
    listing = capsys.readouterr().out
    assert "parks" in listing and "parks.geojson" in listing
    out = tmp_path / "parks-gcj.geojson"
    assert main(["--database-url", sqlite_url, "export", "parks", str(out), "--coordsys", "gcj02"]) == 0
    exported = gpd.read_file(out)
    assert len(exported) == 5
    assert (
        main(
            ["--database-url", sqlite_url, "load", "parks", str(out), "--coordsys", "gcj02", "--user", "张三"]
        )
        == 0
    )
    assert main(["--database-url", sqlite_url, "layers", "--all"]) == 0
    assert "张三" in capsys.readouterr().out


def test_bad_file_exits_2_with_the_problem(tmp_path, sqlite_url, capsys):
    bad = tmp_path / "pois.csv"
    bad.write_text("id,lon,lat,name,category\np1,120.45,36.1,店,cafe\n", encoding="utf-8")
    assert main(["--database-url", sqlite_url, "load", "pois", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "pois.csv, row 2, field 'category': is not one of" in err and "'cafe'" in err


def test_unknown_layer_exits_2(tmp_path, sqlite_url, capsys):
    assert main(["--database-url", sqlite_url, "export", "rivers", str(tmp_path / "x.geojson")]) == 2
    assert "unknown layer 'rivers'" in capsys.readouterr().err


def test_demo_builds_and_loads_every_layer(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert main(["--database-url", url, "demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    for layer in LOAD_ORDER:
        assert layer in out


def test_demo_city_loads_several_districts_and_names_its_extent(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'city.db'}"
    assert main(["--database-url", url, "demo", "--city", "2", "--out", str(tmp_path / "city")]) == 0
    out = capsys.readouterr().out
    assert "SITESELECT_EXTENT='[120.055, 36.035, 120.735, 36.36]'" in out
    districts = Store(url).read_layer("districts")
    assert sorted(districts.loc[districts["level"] == "district", "code"]) == ["370202", "370212"]


@pytest.mark.parametrize("argv", [["load"], ["export", "pois"], ["nonsense"]])
def test_usage_errors_exit_with_usage(argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2


def test_industries_and_geocode(demo_db, capsys):
    assert main(["industries", "奶茶"]) == 0
    assert "6239" in capsys.readouterr().out
    assert main(["--database-url", demo_db, "geocode", "崂山区苗岭路9999号"]) == 0
    assert '"level": "road"' in capsys.readouterr().out


def test_check_one_and_a_file(demo_db, tmp_path, capsys):
    assert (
        main(["--database-url", demo_db, "check", "--address", "崂山区苗岭路9999号", "--industry", "6210"])
        == 0
    )
    assert "需人工核查" in capsys.readouterr().out
    candidates = tmp_path / "candidates.csv"
    candidates.write_text(
        "ref,industry,address,lon,lat,floor\n"
        "a,6210,崂山区苗岭路9999号,,,\nb,62,,120.45,36.1,\nc,6513,,116.4,39.9,\n",
        encoding="utf-8",
    )
    out = tmp_path / "results.csv"
    assert main(["--database-url", demo_db, "check", "--file", str(candidates), "--out", str(out)]) == 0
    assert "checked 3/3" in capsys.readouterr().err
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["ref"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["verdict"] == "review" and rows[0]["match_level"] == "road"
    assert "row 2" in rows[1]["error"] and "outside" in rows[2]["error"]


def test_check_quotes_the_article_a_finding_rests_on(demo_db, capsys):
    from siteselect.store import Store

    zones = Store(demo_db).read_layer("zones")
    school = zones[zones["kind"] == "primary_school"].geometry.iloc[0].representative_point()
    args = ["check", "--lon", str(school.x), "--lat", str(school.y), "--industry", "9013"]
    assert main(["--database-url", demo_db, *args]) == 0
    out = capsys.readouterr().out
    assert "「中学、小学校园周围200米范围内" in out and "第九条（2022-03-29文本）" in out


def test_check_refuses_bad_input_with_exit_2(demo_db, capsys):
    assert (
        main(["--database-url", demo_db, "check", "--lon", "120.45", "--lat", "36.1", "--industry", "62"])
        == 2
    )
    assert "industry code '62'" in capsys.readouterr().err


def test_check_takes_everyday_words_and_lists_the_candidates_when_they_fit_several(demo_db, capsys):
    where = ["--database-url", demo_db, "check", "--address", "崂山区苗岭路9999号"]
    assert main([*where, "--industry", "火锅"]) == 0
    assert "6210 正餐服务" in capsys.readouterr().out
    assert main([*where, "--industry", "培训机构"]) == 2
    err = capsys.readouterr().err
    assert "fits several" in err and "8393 文化艺术培训" in err and "8399 其他未列明教育" in err


def test_match_ranks_vacancies(demo_db, capsys):
    assert main(["--database-url", demo_db, "match", "奶茶", "--max-rent", "150", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6239 ") and " 1. " in out and "amenities" in out
    assert main(["--database-url", demo_db, "match", "奶茶", "--weight", "cost=x"]) == 2
    assert "criterion=number" in capsys.readouterr().err
