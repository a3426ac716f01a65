"""The Laoshan demo scaled up for benchmarks: more buildings and POIs, the same rules and zones; and a
city of ten such districts side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from siteselect import city
from siteselect.demo import BUSINESS_MIX, CATEGORY_OF_DIVISION, FLOORS, LOAD_ORDER, _rect, generate
from siteselect.load import load_file, load_frame
from siteselect.settings import Settings
from siteselect.specs import layers_dir
from siteselect.store import Store

CANDIDATE_CODES = ["9013", "6210", "6232", "5227", "8040", "6513", "9011", "5265", "6110", "8222"]


def scaled_layers(
    buildings: int = 20_000, pois: int = 100_000, vacancies: int = 0, addresses: int = 0, seed: int = 7
) -> dict[str, pd.DataFrame]:
    """The demo layers with synthetic buildings, POIs, available vacancies and certified house
    numbers added up to the given counts (0: as in the demo)."""
    layers = generate()
    rng = np.random.default_rng(seed)
    base = layers["buildings"]
    district = layers["districts"][layers["districts"]["level"] == "district"].geometry.iloc[0]
    extra_b = buildings - len(base)
    uses = list(FLOORS)
    x, y = _inside(district, rng, extra_b)
    new_b = pd.DataFrame({
        "id": [f"SB{i:06d}" for i in range(extra_b)],
        "name": [f"合成楼{i}" for i in range(extra_b)],
        "address": None,
        "use": rng.choice(uses, extra_b),
        "floors": rng.integers(1, 30, extra_b),
        "accepted_on": np.where(rng.random(extra_b) < 0.3, "2015-06-01", None),
        "acceptance_no": None,
        "flue": rng.random(extra_b) < 0.5,
        "geometry": [_rect(a, b, 30, 20, float(r)) for a, b, r in zip(x, y, rng.uniform(0, 90, extra_b))],
    })  # fmt: skip
    layers["buildings"] = pd.concat([base[[c for c in base.columns if not c.startswith("_")]], new_b])
    base_p = layers["pois"]
    extra_p = pois - len(base_p)
    codes = [c for mix in BUSINESS_MIX.values() for c in mix]
    chosen = rng.choice(codes, extra_p)
    x, y = _inside(district, rng, extra_p)
    new_p = pd.DataFrame({
        "id": [f"SP{i:07d}" for i in range(extra_p)],
        "name": [f"合成商户{i}" for i in range(extra_p)],
        "category": [CATEGORY_OF_DIVISION.get(c[:2], "business") for c in chosen],
        "industry": chosen,
        "geometry": shapely.points(x, y),
    })  # fmt: skip
    layers["pois"] = pd.concat([base_p, new_p])
    synthetic = layers["buildings"].iloc[len(base) :]
    if vacancies:  # at the house numbers of their buildings, as listings are written
        layers["vacancies"] = pd.concat([layers["vacancies"], _vacancies(synthetic, vacancies, rng)])
    if addresses or vacancies:
        numbers = max(addresses, len(synthetic))  # every synthetic building has one
        layers["house_numbers"] = pd.concat([layers["house_numbers"], _addresses(synthetic, numbers)])
    return {name: df.reset_index(drop=True) for name, df in layers.items()}


def _vacancies(buildings: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    which = rng.integers(0, len(buildings), n)
    picks = buildings.iloc[which]
    floors = rng.integers(1, 10, n)
    return pd.DataFrame({
        "id": [f"SV{i:06d}" for i in range(n)], "park_id": None, "building_id": picks["id"].to_numpy(),
        "address": [f"合成路{b + 1}号{f}层{i % 40 + 1:02d}室" for i, (b, f) in enumerate(zip(which, floors))],
        "floor": floors,
        "area_m2": rng.uniform(20, 800, n).round(1), "rent": rng.uniform(30, 200, n).round(1),
        "use": picks["use"].to_numpy(), "status": "available", "prefiled": rng.random(n) < 0.1,
        "available_from": "2026-12-01", "updated_at": "2026-11-01",
        "geometry": shapely.centroid(picks.geometry.to_numpy()),
    })  # fmt: skip


def _addresses(buildings: pd.DataFrame, n: int) -> pd.DataFrame:
    picks = buildings.iloc[np.arange(n) % len(buildings)]
    return pd.DataFrame({
        "id": [f"SH{i:06d}" for i in range(n)],
        "address": [f"山东省青岛市崂山区合成路{i + 1}号" for i in range(n)], "road": "合成路",
        "number": [str(i + 1) for i in range(n)], "building_id": picks["id"].to_numpy(),
        "certificate_no": [f"合成证{i:06d}" for i in range(n)],
        "geometry": shapely.centroid(picks.geometry.to_numpy()),
    })  # fmt: skip


def _inside(shape: shapely.Geometry, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = shape.bounds
    xs, ys = [], []
    while sum(len(a) for a in xs) < n:
        x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
        keep = shapely.contains_xy(shape, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def load_scaled(store: Store, **sizes: int) -> dict[str, pd.DataFrame]:
    """Load the scaled demo into a store (rules from the catalog); return the layers loaded."""
    layers = scaled_layers(**sizes)
    for layer in LOAD_ORDER:
        if layer == "rules":
            load_file(store, layer, layers_dir() / "rules.yaml")
        else:
            load_frame(store, layer, layers[layer], source=f"scaled {layer}")
    if store.postgis:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return layers


def describe(layers: dict[str, pd.DataFrame]) -> str:
    return (
        f"{len(layers['buildings']):,} buildings, {len(layers['pois']):,} POIs, "
        f"{len(layers['zones'])} zones, {len(layers['prohibited_addresses'])} prohibited addresses"
    )


def random_candidates(
    layers: dict[str, pd.DataFrame], n: int, seed: int = 11
) -> list[tuple[float, float, str]]:
    """Random points over the districts with a rotating mix of industries the rules care about."""
    districts = layers["districts"]
    district = shapely.union_all(districts[districts["level"] == "district"].geometry.to_numpy())
    x, y = _inside(district, np.random.default_rng(seed), n)
    return [(a, b, CANDIDATE_CODES[i % len(CANDIDATE_CODES)]) for i, (a, b) in enumerate(zip(x, y))]


def city_sized(districts: int = 10, scale: float = 1.0) -> dict[str, pd.DataFrame]:
    """Demo-like districts side by side (``siteselect.city``), each the demo scaled to 20,000
    buildings, 100,000 POIs, 10,000 available vacancies and 50,000 certified addresses (times
    ``scale``): at ten districts, the city of 200,000 buildings and 1,000,000 POIs."""
    base = scaled_layers(
        buildings=int(20_000 * scale), pois=int(100_000 * scale),
        vacancies=int(10_000 * scale), addresses=int(50_000 * scale),
    )  # fmt: skip
    return city.city_layers(districts, base=base)  # type: ignore[arg-type]


def load_city(store: Store, layers: dict[str, pd.DataFrame], districts: int, settings: Settings) -> None:
    """Load a city's layers (``city_sized``) and its rules into a store."""
    rules = pd.DataFrame(city.city_rules(districts))
    for layer in LOAD_ORDER:
        frame = rules if layer == "rules" else layers[layer]
        load_frame(store, layer, frame, source=f"city {layer}", settings=settings)
    if store.postgis:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
