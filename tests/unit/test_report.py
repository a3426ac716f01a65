"""Map reports: what they show, that they need no network, and that the same inputs give the same bytes."""

import dataclasses
import datetime as dt
import re

import numpy as np
import pytest
import shapely

from siteselect import report
from siteselect.cli import main
from siteselect.coords import wgs84_to_gcj02
from siteselect.drawing import Basemap
from siteselect.errors import InvalidInputError
from siteselect.index import Catalog
from siteselect.store import Store

GENERATED = re.compile(r'<span class="generated">[^<]*</span>')
AS_OF = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def snapshot(demo_db):
    return Catalog(Store(demo_db)).current()


def _school_site(snapshot):
    """A point 120-200 m outside a primary school's campus: an internet café may not open there."""
    zones = snapshot.layer("zones")
    schools = (zones.features["kind"] == "primary_school") & (zones.features.geom_type == "Polygon")
    row = int(np.flatnonzero(schools)[0])
    campus = zones.local[row]
    _, miny, maxx, maxy = campus.bounds
    point = shapely.Point(maxx + 120, (miny + maxy) / 2)
    lonlat = snapshot.frame.to_wgs84([point])[0]
    return {"lon": lonlat.x, "lat": lonlat.y}, zones.features["name"].iloc[row], campus.distance(point)


def _build(snapshot, sites, when=dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC), **kw):
    request = report.ReportRequest(industry="9013", sites=tuple(sites), as_of=AS_OF)
    return report.build(snapshot, request, kw.get("basemap"), when)


def test_same_inputs_same_id_and_bytes(snapshot):
    site, _, _ = _school_site(snapshot)
    first = _build(snapshot, [site])
    again = _build(snapshot, [site], when=dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    assert first.id == again.id
    assert first.html != again.html  # the generation time differs ...
    assert GENERATED.sub("", first.html) == GENERATED.sub("", again.html)  # ... and nothing else
    assert not re.search(r"_[0-9a-f]{32}\b", first.html)  # no random element ids


def test_id_follows_inputs_versions_and_day(snapshot):
    site, _, _ = _school_site(snapshot)
    request = report.ReportRequest(industry="9013", sites=(site,), as_of=AS_OF)
    versions, plain = snapshot.versions, Basemap()
    base = report.report_id(request, versions, AS_OF, plain)
    assert report.report_id(request, versions | {"rules": 2}, AS_OF, plain) != base
    assert report.report_id(request, versions, AS_OF + dt.timedelta(days=1), plain) != base
    other = report.ReportRequest(industry="9011", sites=(site,), as_of=AS_OF)
    assert report.report_id(other, versions, AS_OF, plain) != base
    # a filing is part of what a report is; a request without one is hashed as before filings were
    filed = dataclasses.replace(request, filing=report.Filing(application_no="A-1"))
    assert report.report_id(filed, versions, AS_OF, plain) != base
    assert "filing" not in request.as_dict() and report.ReportRequest.from_dict(filed.as_dict()) == filed


def test_a_filing_is_plain_text_of_at_most_100_characters_and_blank_is_none():
    filing = report.Filing(application_no="  A-1 ", applicant="", clerk=None)
    assert filing.as_dict() == {"application_no": "A-1"}
    assert filing.signed_by("窗口").clerk == "窗口"
    assert report.Filing(clerk="李四").signed_by("窗口").clerk == "李四"
    with pytest.raises(InvalidInputError, match=r"filing\.applicant: at most 100"):
        report.Filing(applicant="张" * 101)
    with pytest.raises(InvalidInputError, match=r"filing\.clerk: character U\+0000"):
        report.Filing(clerk="王\x00")


def test_report_shows_the_violated_rule_with_its_basis_buffer_and_distance(snapshot):
    site, school, distance = _school_site(snapshot)
    made = _build(snapshot, [site])
    assert made.verdicts == ("prohibited",)
    html = made.html
    assert "R01-school-200m" in html and "《互联网上网服务营业场所管理条例》第九条（2022-03-29文本）" in html
    # the rule table quotes the article's sentence, not only its number
    assert (
        "<blockquote>中学、小学校园周围200米范围内和居民住宅楼（院）内不得设立互联网上网服务营业场所。</blockquote>"
        in html
    )
    assert re.search(r'"[^"]*200 m buffer[^"]*R01-school-200m"', html)  # the rule's buffer is a map layer
    assert school in html
    measured = re.search(r"实测 measured ([\d.]+) m / 限值 limit 200.0 m", html)
    assert measured and float(measured.group(1)) == pytest.approx(distance, abs=0.01)
    for layer in ("same-industry businesses", "restriction zones", "roads", "dining"):
        assert re.search(rf'"[^"]*{layer}" : feature_group_', html)
    assert len(html.encode()) <= 2_000_000


def test_report_needs_nothing_but_itself(snapshot):
    site, _, _ = _school_site(snapshot)
    html = _build(snapshot, [site]).html
    assert "L.map(" in html and "Leaflet" in html  # Leaflet is embedded
    loads = r'<(?:script|img|iframe|source)[^>]*\ssrc=["\']([^"\']+)|<link[^>]*\shref=["\']([^"\']+)'
    links = [a or b for a, b in re.findall(loads, html)] + re.findall(r"url\(([^)]+)\)", html)
    external = [u for u in links if re.match(r"(https?:)?//", u.strip("'\""))]
    assert external == [] and any(u.startswith("data:image/png") for u in links)


def test_tile_and_gcj02_basemaps(snapshot):
    site, _, _ = _school_site(snapshot)
    tiles = "http://tiles.intranet.example/{z}/{x}/{y}.png"
    plain = _build(snapshot, [site], basemap=Basemap.parse(tiles, "区测绘院")).html
    assert tiles in plain and "区测绘院" in plain
    shifted = _build(snapshot, [site], basemap=Basemap.parse("gcj02:" + tiles)).html
    glon, glat = wgs84_to_gcj02(site["lon"], site["lat"])
    assert f"[{round(float(glon), 6)}, {round(float(glat), 6)}]" in shifted
    assert f"[{round(float(glon), 6)}, {round(float(glat), 6)}]" not in plain


def test_comparison_report(snapshot):
    site, _, _ = _school_site(snapshot)
    vacancy = snapshot.layer("vacancies").features["id"].iloc[5]
    made = _build(snapshot, [site, {"vacancy_id": vacancy}])
    assert "选址比较报告" in made.html and made.verdicts[0] == "prohibited"
    assert made.html.count('<section class="site">') == 2
    assert re.search(r'"[^"]*the building" : feature_group_', made.html)  # the vacancy's building


@pytest.mark.parametrize(
    ("sites", "words"),
    [([], "1 to 5 sites"), ([{"lon": 120.45, "lat": 36.1}] * 6, "1 to 5 sites"),
     ([{"vacancy_id": "V99999"}], "V99999"), ([{"lon": 1.0, "lat": 2.0}], "outside")],
)  # fmt: skip
def test_bad_requests_are_refused(snapshot, sites, words):
    with pytest.raises(InvalidInputError, match=words):
        _build(snapshot, sites)


def test_cli_writes_the_report(demo_db, tmp_path, capsys):
    out = tmp_path / "r.html"
    args = ["--database-url", demo_db, "report", "网吧", "--site", "vacancy:V00006", "--as-of", "2026-06-01"]
    assert main([*args, "--out", str(out)]) == 0
    rid = re.search(r"report ([0-9a-f]{24})", capsys.readouterr().out).group(1)
    assert f'content="{rid}"' in out.read_text(encoding="utf-8")
    assert main([*args[:-2], "--as-of", "June"]) == 2
    assert "--as-of 'June'" in capsys.readouterr().err
