"""Benchmark: matching, the suitability surface and batch scoring, beside the plain geopandas way.

    python bench/match_speed.py [--plain 20000]

Data: the Laoshan demo scaled to 20,000 buildings, 100,000 POIs, 10,000 available vacancies and
50,000 certified addresses, in an embedded SQLite store. Measured in one run:

- the warm-up the service does when it starts (cell maps, the candidates' surroundings), then a
  top-10 match over all 60,000 candidates: the first call and the calls after it; target 100 ms;
- the whole-district suitability surface at H3 resolution 9 (target 2 s) and 10 (target 10 s);
- batch scoring of 100,000 random places in one process (target 100,000/s), and the same criteria
  computed the plain way — geopandas buffers, `sjoin` and `sjoin_nearest` — on ``--plain`` places.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scaled_demo import describe, load_scaled, random_candidates
from siteselect import industry, scoring
from siteselect.check import checker_for
from siteselect.grid import point_cells
from siteselect.index import Catalog, LayerIndex, Snapshot
from siteselect.match import Constraints, match, scorer_for, surface
from siteselect.store import Store

CODE = "6232"  # a coffee shop: catering, the family with the most criteria


def seconds(run) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def plain_way(layers: dict, lonlat: list[tuple[float, float, str]]) -> float:
    """The same criteria the plain way: 500 m buffers in UTM, `sjoin` and `sjoin_nearest`."""
    start = time.perf_counter()
    family = scoring.config()["families"][scoring.family_of(CODE)]
    radius = float(scoring.config()["walking_m"])
    n = len(lonlat)
    places = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy([p[0] for p in lonlat], [p[1] for p in lonlat]), crs=4326
    ).to_crs(32651)
    pois = gpd.GeoDataFrame(layers["pois"], geometry="geometry", crs=4326).to_crs(32651)
    buffers = gpd.GeoDataFrame(geometry=places.buffer(radius), crs=32651)
    joined = gpd.sjoin(pois, buffers, predicate="within")
    counts = (
        joined.groupby(["index_right", "category"])
        .size()
        .unstack(fill_value=0)
        .reindex(range(n), fill_value=0)
    )
    business = joined[joined["industry"].notna()]
    codes = business["industry"]
    same = (
        business[codes.str.startswith(CODE[:2])].groupby("index_right").size().reindex(range(n), fill_value=0)
    )
    is_related = codes.map(lambda c: any(industry.matches(c, p) for p in family["related"]))
    related = business[is_related].groupby("index_right").size().reindex(range(n), fill_value=0)
    everything = business.groupby("index_right").size().reindex(range(n), fill_value=0)
    all_codes = pois["industry"].dropna()
    district_share = all_codes.str.startswith(CODE[:2]).mean()
    quotient = np.where(everything > 0, same / np.maximum(everything, 1), 0.0) / district_share
    nearest = {}
    for category in ("metro", "bus"):
        hit = gpd.sjoin_nearest(places, pois[pois["category"] == category], distance_col="d")
        nearest[category] = hit.groupby(level=0)["d"].min().reindex(range(n)).to_numpy()
    amenity = {c: counts[c].to_numpy() if c in counts else np.zeros(n) for c in family["amenities"]}
    scoring.amenity_scores(amenity, family["amenities"])
    scoring.clustering_scores(same.to_numpy(), related.to_numpy(), quotient)
    scoring.access_scores(nearest["metro"], nearest["bus"])
    return time.perf_counter() - start


def with_vacancies(snapshot: Snapshot, vacancies: gpd.GeoDataFrame) -> Snapshot:
    """The snapshot after a listing changed, as the catalog makes it (the previous one beside it)."""
    layer = snapshot.layer("vacancies")
    cells = point_cells(vacancies.geometry.x, vacancies.geometry.y, layer.version.h3_resolution)
    index = LayerIndex.build(
        layer.version, vacancies, vacancies["id"].to_numpy(object), cells, snapshot.frame
    )
    return Snapshot(snapshot.layers | {"vacancies": index}, snapshot.frame, previous=snapshot)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--plain", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'scaled.db'}")
        layers = load_scaled(store, vacancies=10_000, addresses=50_000)
        snapshot = Catalog(store).current()
        print(f"data: {describe(layers)}, {len(scorer_for(snapshot).pool[0]):,} candidates")
        warm = seconds(lambda: (checker_for(snapshot).warm(), scorer_for(snapshot).warm()))
        print(f"warm-up (done once when the service starts): {warm:.2f} s")
        first = seconds(lambda: match(snapshot, CODE, Constraints(include_addresses=True), limit=10))
        runs = []
        for budget in (80.0, 120.0, 160.0, 200.0, 250.0):
            wanted = Constraints(include_addresses=True, max_rent=budget)
            runs.append(seconds(lambda wanted=wanted: match(snapshot, CODE, wanted, limit=10)))
        print(f"top-10 match over all candidates: first {first * 1000:7.1f} ms, then median "
              f"{np.median(runs) * 1000:6.1f} ms (target 100 ms)")  # fmt: skip
        vacancies = snapshot.layer("vacancies").features.copy()
        vacancies.loc[vacancies.index[0], "rent"] = 1.0  # an operator changes one listing
        changed = with_vacancies(snapshot, vacancies)
        after = seconds(lambda: match(changed, CODE, Constraints(include_addresses=True), limit=10))
        whole = seconds(lambda: scorer_for(changed).facts(scorer_for(changed).pool[1], CODE))
        print(f"top-10 match right after a listing changes: {after * 1000:7.1f} ms (vacancies recounted, "
              f"addresses kept); counting the whole pool again would take {whole * 1000:.1f} ms")  # fmt: skip
        for res, target in ((9, 2.0), (10, 10.0)):
            start = time.perf_counter()
            cells = surface(snapshot, CODE, res)
            took = time.perf_counter() - start
            print(f"surface res {res}: {len(cells):>7,} cells in {took:6.2f} s (target {target:g} s)")
        places = random_candidates(layers, 100_000)
        points = snapshot.frame.points([p[0] for p in places], [p[1] for p in places])
        xy = shapely.get_coordinates(points)
        nan = np.full(len(xy), np.nan)
        took = seconds(lambda: scorer_for(snapshot).criteria(xy, CODE, nan, nan, Constraints()))
        rate = len(xy) / took
        print(f"batch scoring: {rate:>10,.0f} places/s ({len(xy):,} in {took:.2f} s; target 100,000/s)")
        n = min(args.plain, len(places))
        plain = plain_way(layers, places[:n])
        print(f"plain geopandas (buffers, sjoin): {n / plain:>10,.0f} places/s ({n:,} in {plain:.2f} s)")


if __name__ == "__main__":
    main()
