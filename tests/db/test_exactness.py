"""Exactness: the library's verdicts and distances agree with plain PostGIS `geography` queries.

Ten thousand random points over the district, plus points 1 m inside and outside every distance
threshold of the demo data (every zone a distance rule names, every prohibited point's radius),
are checked by the library and by the PostGIS baseline. No verdict may differ unless PostGIS puts
the point within 5 cm of a threshold, and every distance the library reports must match PostGIS's.
The same holds at city extent: the ten districts of the synthetic city (151 km by 69 km, one planar
frame centred on them all, a district's local rule), with random points in every district and
every threshold of every district.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import shapely
from sqlalchemy.engine import make_url

from siteselect import city, industry
from siteselect.check import checker_for
from siteselect.demo import LOAD_ORDER
from siteselect.geodesy import GEOD
from siteselect.index import Catalog
from siteselect.load import load_file
from siteselect.premises import Premises
from siteselect.settings import Settings
from siteselect.store import Store
from tests.support.postgis_baseline import PostgisBaseline

pytestmark = pytest.mark.postgis
TOLERANCE_M = 0.05
RANDOM_POINTS = 10_000
DAY = dt.date(2026, 11, 1)


def _code_for(prefixes: list[str]) -> str:
    return next(c.code for c in industry.classes() for p in prefixes if industry.matches(c.code, p))


def _random_points(district: shapely.Geometry, n: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(42)
    minx, miny, maxx, maxy = district.bounds
    out: list[tuple[float, float]] = []
    while len(out) < n:
        x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
        inside = shapely.contains_xy(district, x, y)
        out += list(zip(x[inside].tolist(), y[inside].tolist()))
    return out[:n]


def _threshold_points(snapshot) -> list[tuple[float, float, str]]:
    """Points 1 m either side of each distance threshold, with an industry the threshold binds."""
    zones = snapshot.layer("zones").features
    out = []
    for rule in snapshot.layer("rules").features.to_dict("records"):
        if rule["kind"] != "min_distance":
            continue
        code, meters = _code_for(rule["industries"]), rule["params"]["meters"]
        for zone in zones[zones["kind"].isin(rule["params"]["zone_kinds"])].itertuples():
            geom = zone.geometry
            vx, vy = (geom.x, geom.y) if geom.geom_type == "Point" else geom.exterior.coords[0]
            c = geom.centroid
            az = 45.0 if geom.geom_type == "Point" else GEOD.inv(c.x, c.y, vx, vy)[0]
            for offset in (-1.0, 1.0):
                x, y, _ = GEOD.fwd(vx, vy, az, meters + offset)
                out.append((x, y, code))
    entries = snapshot.layer("prohibited_addresses").features
    for e in entries[entries.geom_type == "Point"].itertuples():
        radius = e.radius_m if e.radius_m == e.radius_m and e.radius_m is not None else 10.0
        for offset in (-1.0, 1.0):
            x, y, _ = GEOD.fwd(e.geometry.x, e.geometry.y, 30.0, radius + offset)
            out.append((x, y, _code_for(e.industries)))
    return out


def test_verdicts_and_distances_agree_with_postgis(postgis_url, demo_files, capsys):
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    _agree_with_postgis(postgis_url, demo_files, settings, capsys, RANDOM_POINTS)


def test_at_city_extent_in_every_district(postgis_url, tmp_path, capsys):
    layers = city.city_layers(10)
    settings = Settings(_env_file=None, extent=city.extent(layers))  # type: ignore[call-arg]
    # Fewer random points a district than in the demo's test: every threshold of every district
    # is tried, and the frame's error grows with the distance from its centre, not with the count.
    # The POIs decide no verdict (they score): a city's million were most of the test's time.
    files = city.write_city(tmp_path, 10)
    del files["pois"]
    _agree_with_postgis(postgis_url, files, settings, capsys, 3_000)


def _agree_with_postgis(postgis_url, files, settings, capsys, random_points):
    store = Store(postgis_url)
    for layer in [name for name in LOAD_ORDER if name in files]:
        load_file(store, layer, files[layer], settings=settings)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    snapshot = Catalog(store, settings).current()
    checker = checker_for(snapshot)
    codes = sorted({_code_for(r["industries"]) for r in snapshot.layer("rules").features.to_dict("records")})
    districts = snapshot.layer("districts").features
    outlines = districts[districts["level"] == "district"].geometry.tolist()
    each = random_points // len(outlines)
    drawn = [p for outline in outlines for p in _random_points(outline, each)]
    cases = [(x, y, codes[n % len(codes)]) for n, (x, y) in enumerate(drawn)]
    near_thresholds = _threshold_points(snapshot)
    cases += near_thresholds
    ours = checker.check_many([Premises.parse(industry=c, lon=x, lat=y, as_of=DAY) for x, y, c in cases])

    url = make_url(postgis_url)
    conninfo = f"host={url.host} port={url.port} user={url.username} dbname={url.database}"
    baseline = PostgisBaseline(conninfo, snapshot.versions)
    disagreements, near, worst = [], 0, 0.0
    try:
        answers = baseline.check_pipelined(cases, DAY.isoformat())  # as many statements, sent at once
        for (x, y, code), mine, theirs in zip(cases, ours, answers):
            pg_zone = {(rid, zid): d for rid, hits in theirs.zone_hits.items() for zid, d in hits}
            my_zone = {
                (r["id"], f["id"]): f["distance_m"]
                for r in mine["reasons"] if r["source"] == "rule" and "features" in r["evidence"]
                and r["evidence"]["features"] and r["evidence"]["features"][0]["layer"] == "zones"
                for f in r["evidence"]["features"]
            }  # fmt: skip
            beside_threshold = False
            for key in set(pg_zone) | set(my_zone):
                if key in pg_zone and key in my_zone:
                    worst = max(worst, abs(pg_zone[key] - my_zone[key]))
                    continue
                d = pg_zone.get(key, my_zone.get(key))
                threshold = _threshold(snapshot, key[0])
                if abs(d - threshold) <= TOLERANCE_M:
                    near += 1
                    beside_threshold = True
                else:
                    disagreements.append(("zone", x, y, code, key, d, threshold))
            my_entries = {r["id"] for r in mine["reasons"] if r["source"] == "prohibited_address"}
            if my_entries != theirs.entries:
                disagreements.append(("entries", x, y, code, my_entries ^ theirs.entries))
            if mine["verdict"] != theirs.verdict and not beside_threshold:
                disagreements.append(("verdict", x, y, code, mine["verdict"], theirs.verdict))
    finally:
        baseline.close()
    with capsys.disabled():
        print(f"\n{len(outlines)} districts, {len(cases):,} checks "
              f"({len(near_thresholds)} beside thresholds): "
              f"{len(disagreements)} disagreements, {near} within {TOLERANCE_M} m of a threshold, "
              f"largest distance difference {worst * 1000:.2f} mm")  # fmt: skip
    assert len(near_thresholds) > 300 * len(outlines)
    assert disagreements == []
    assert worst <= TOLERANCE_M


def _threshold(snapshot, rule_id: str) -> float:
    rules = snapshot.layer("rules").features.set_index("id")
    return float((rules.loc[rule_id, "params"] or {}).get("meters", 0.0))
