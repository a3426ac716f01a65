"""A synthetic city: demo-like districts side by side, for benchmarks and for several districts.

Each district is a copy of one set of district layers (the Laoshan demo, or the demo scaled up)
moved to its cell of the grid in ``layers/demo/city.yaml`` and given the name and statistics code of
one of Qingdao's districts: its ids, codes, streets, roads, parks and departments become its own, so
addresses and ids never collide between districts. The first district is the given layers unmoved.
The rules are the catalog's, which apply everywhere, and the districts' local rules. Deterministic:
the same layers in give the same city out.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml

from siteselect.demo import FILE_OF_LAYER, generate
from siteselect.io import write_layer_file
from siteselect.specs import layers_dir

BASE_NAME, BASE_SHORT, BASE_CODE = "崂山区", "崂山", "370212"  # the district the demo draws
ID_COLUMNS = ("id", "building_id", "house_number_id", "park_id")
# Text that names roads, streets, parks or the district, and is renamed in each copy.
NAMED_COLUMNS = ("name", "address", "road", "_road", "department", "operator")
MARGIN_DEG = 0.02  # around the districts, for the extent setting


@cache
def plan() -> dict[str, Any]:
    """The grid and the districts of ``layers/demo/city.yaml``."""
    return yaml.safe_load((layers_dir() / "demo" / "city.yaml").read_text(encoding="utf-8"))


def city_layers(
    count: int = 10, base: dict[str, gpd.GeoDataFrame] | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """The first ``count`` districts of the plan, each a copy of ``base`` (default: the demo)."""
    districts = plan()["districts"]
    if not 1 <= count <= len(districts):
        raise ValueError(f"a city has 1 to {len(districts)} districts, got {count}")
    base = generate() if base is None else base
    copies = [_copy(base, d) for d in districts[:count]]
    return {name: _frame(pd.concat([c[name] for c in copies], ignore_index=True)) for name in base}


def _frame(table: pd.DataFrame) -> gpd.GeoDataFrame:
    """A layer as a GeoDataFrame in WGS-84 (a scaled-up base may come as a plain DataFrame)."""
    return gpd.GeoDataFrame(table, geometry="geometry").set_crs("EPSG:4326", allow_override=True)


def city_rules(count: int = 10) -> list[dict[str, Any]]:
    """The catalog's rules and the local rules of the first ``count`` districts."""
    catalog = yaml.safe_load((layers_dir() / "rules.yaml").read_text(encoding="utf-8"))["rules"]
    codes = {d["code"] for d in plan()["districts"][:count]}
    local = [r for r in plan()["local_rules"] if set(r["districts"]) & codes]
    return catalog + local


def extent(layers: dict[str, pd.DataFrame]) -> tuple[float, float, float, float]:
    """The box the city's districts lie in, with a margin: its ``SITESELECT_EXTENT``."""
    minx, miny, maxx, maxy = shapely.total_bounds(layers["districts"]["geometry"].to_numpy())
    box = (minx - MARGIN_DEG, miny - MARGIN_DEG, maxx + MARGIN_DEG, maxy + MARGIN_DEG)
    return tuple(round(float(v), 3) for v in box)  # type: ignore[return-value]


def write_city(
    out_dir: str | Path, count: int = 10, base: dict[str, gpd.GeoDataFrame] | None = None
) -> dict[str, Path]:
    """Write the city as one file per layer (the demo's formats) and its rules as YAML."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, gdf in city_layers(count, base).items():
        public = gdf[[c for c in gdf.columns if not c.startswith("_")]]
        path = out / FILE_OF_LAYER[name]
        path.unlink(missing_ok=True)
        if path.suffix == ".csv":  # points as lon/lat columns, as the demo writes them
            frame = pd.DataFrame(public.drop(columns="geometry"))
            frame.insert(1, "lon", public.geometry.x.round(7))
            frame.insert(2, "lat", public.geometry.y.round(7))
            frame.to_csv(path, index=False)
        else:
            write_layer_file(public, path)
        written[name] = path
    written["rules"] = out / "rules.yaml"
    rules = {"rules": city_rules(count)}
    written["rules"].write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return written


def _copy(base: dict[str, gpd.GeoDataFrame], district: dict[str, Any]) -> dict[str, gpd.GeoDataFrame]:
    """The base layers as ``district``: moved to its cell, renamed, with ids of its own."""
    if district["code"] == BASE_CODE and district["at"] == [0, 0]:
        return base
    dx, dy = (a * s for a, s in zip(district["at"], plan()["spacing"]))
    rename = _renamer(base, district)
    prefix = f"{district['code']}-"
    out = {}
    for name, gdf in base.items():
        gdf = gdf.copy()
        for column in ID_COLUMNS:
            if column in gdf:
                gdf[column] = [f"{prefix}{v}" if isinstance(v, str) else v for v in gdf[column]]
        if name == "districts":  # statistics codes: the district's six digits, then the rest
            gdf["code"] = [district["code"] + str(c)[6:] for c in gdf["code"]]
            gdf["id"] = gdf["code"]
        if name != "pois":  # POI names are not places anyone looks up
            for column in NAMED_COLUMNS:
                if column in gdf:
                    gdf[column] = [rename(v) if isinstance(v, str) else v for v in gdf[column]]
        gdf["geometry"] = shapely.transform(gdf["geometry"].to_numpy(), lambda xy: xy + np.array([dx, dy]))
        out[name] = gdf
    return out


def _renamer(base: dict[str, gpd.GeoDataFrame], district: dict[str, Any]) -> Any:
    """A function renaming the base district's roads, streets and parks to the district's own."""
    names = set(base["roads"]["name"]) | set(base["parks"]["name"])
    names |= set(base["districts"].loc[base["districts"]["level"] != "district", "name"])
    if "road" in base["house_numbers"]:
        names |= set(base["house_numbers"]["road"].dropna())
    short, full = district["short"], district["name"]
    words = {n: f"{short}{n}" for n in names if isinstance(n, str) and n}
    words |= {BASE_NAME: full, BASE_SHORT: short}
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: words[m.group(0)], text)
