"""The Laoshan demo: a deterministic generator of every layer for a plausible 崂山区.

Its hand-written inputs (street outlines, roads, parks, named facilities) live in
``layers/demo/laoshan.yaml`` and the rules in ``layers/rules.yaml``; everything else is drawn from a
fixed seed, so the same code always writes the same files. The files are then loaded through the
ordinary loaders, exactly as a department's files would be.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon

from siteselect.io import write_layer_file
from siteselect.specs import layers_dir

SEED = 20240328
REFERENCE_DATE = dt.date(2026, 11, 1)  # "today" of the demo, so its dates never drift
ACCEPTED_BUILDINGS = 361
PROHIBITED_ADDRESSES = 82
CERTIFICATES = 96
MIN_BUSINESS_POIS = 3200
LAT0 = 36.15
M_PER_DEG_LAT = 110_950.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))

# What businesses open in buildings of each use: GB/T 4754 class codes and weights.
# fmt: off
BUSINESS_MIX: dict[str, dict[str, float]] = {
    "office": {"6513": 4, "6429": 3, "7212": 3, "7231": 2, "7241": 2, "6621": 1, "7221": 2,
               "6232": 2, "6220": 2, "8393": 1, "7291": 2},
    "commercial": {"6210": 5, "6220": 4, "6232": 3, "6231": 2, "6239": 3, "6291": 3, "5211": 2,
                   "5212": 2, "5232": 3, "5226": 2, "5227": 1, "8040": 3, "9013": 1, "9011": 1,
                   "6233": 1, "8394": 1, "5251": 2, "6621": 1, "8222": 1, "5299": 1},
    "mixed": {"6210": 3, "6220": 3, "6291": 3, "6232": 2, "6239": 2, "5212": 2, "5223": 2,
              "5227": 2, "8040": 3, "5251": 2, "8393": 2, "8020": 1, "9013": 1, "5299": 1},
    "residential": {"5213": 2, "5223": 2, "8040": 2, "6291": 1, "5227": 1, "8010": 1, "8310": 1},
    "industrial": {"3311": 2, "3990": 2, "1530": 1, "7291": 1, "5162": 1, "4512": 1},
    "public": {"8310": 1, "8393": 1, "6232": 1},
    "other": {"5226": 2, "6130": 2, "6231": 1, "0311": 1, "5299": 1},
}
# fmt: on
CATEGORY_OF_DIVISION = {"62": "dining", "61": "hotel", "66": "bank", "52": "retail"}
FLOORS = {
    "residential": (6, 33),
    "office": (10, 40),
    "commercial": (2, 6),
    "mixed": (5, 20),
    "industrial": (1, 5),
    "public": (2, 6),
    "other": (1, 3),
}
USE_NAMES = {
    "office": "大厦",
    "commercial": "商业楼",
    "mixed": "商住楼",
    "residential": "住宅楼",
    "industrial": "厂房",
    "public": "综合楼",
    "other": "楼",
}


def _m_to_deg(dx_m: float, dy_m: float) -> tuple[float, float]:
    return dx_m / M_PER_DEG_LON, dy_m / M_PER_DEG_LAT


def _rect(cx: float, cy: float, w_m: float, h_m: float, angle_deg: float = 0.0) -> Polygon:
    """A w × h metre rectangle centred on (cx, cy), rotated by ``angle_deg``."""
    hw, hh = w_m / 2, h_m / 2
    corners = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
    rotated = affinity.rotate(Polygon(corners), angle_deg, origin=(0, 0))
    ring = [(cx + x / M_PER_DEG_LON, cy + y / M_PER_DEG_LAT) for x, y in rotated.exterior.coords]
    return shapely.orient_polygons(Polygon(ring))  # counter-clockwise, as RFC 7946 wants


def _random_point_in(poly: Polygon, rng: np.random.Generator, shrink: float = 0.8) -> Point:
    inner = affinity.scale(poly, shrink, shrink)
    minx, miny, maxx, maxy = inner.bounds
    while True:
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if inner.contains(p):
            return p


def _pick(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return str(keys[rng.choice(len(keys), p=p / p.sum())])


def _date_between(rng: np.random.Generator, start: dt.date, end: dt.date) -> str:
    return (start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))).isoformat()


@dataclass
class Demo:
    """The generated layers, as lists of records with a ``geometry`` key."""

    inputs: dict[str, Any]
    rng: np.random.Generator
    layers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, layer: str, **record: Any) -> dict[str, Any]:
        self.layers.setdefault(layer, []).append(record)
        return record

    def frame(self, layer: str) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(pd.DataFrame(self.layers[layer]), geometry="geometry", crs=4326)


def generate(seed: int = SEED) -> dict[str, gpd.GeoDataFrame]:
    """Every demo layer with geometry, by name."""
    inputs = yaml.safe_load((layers_dir() / "demo" / "laoshan.yaml").read_text(encoding="utf-8"))
    demo = Demo(inputs, np.random.default_rng(seed))
    streets = _districts(demo)
    _roads(demo)
    _parks(demo)
    _zones(demo)
    _buildings(demo, streets)
    _compounds(demo)
    _house_numbers(demo)
    _prohibited(demo)
    _pois(demo)
    _vacancies(demo)
    _legal_zones(demo)
    return {name: demo.frame(name) for name in demo.layers}


# ---- districts ----------------------------------------------------------------------------------


def _districts(demo: Demo) -> dict[str, Polygon]:
    streets = {s["name"]: shapely.orient_polygons(Polygon(s["outline"])) for s in demo.inputs["streets"]}
    district = demo.inputs["district"]
    demo.add(
        "districts",
        id=district["code"],
        name=district["name"],
        level="district",
        code=district["code"],
        geometry=shapely.union_all(list(streets.values())),
    )
    for s in demo.inputs["streets"]:
        outline = streets[s["name"]]
        demo.add("districts", id=s["code"], name=s["name"], level="street", code=s["code"], geometry=outline)
        anchors = demo.inputs["communities"][int(s["code"])]
        seeds = shapely.MultiPoint([(a[2], a[3]) for a in anchors])
        cells = shapely.voronoi_polygons(seeds, extend_to=outline).geoms
        for code, name, x, y in anchors:
            cell = next(c for c in cells if c.contains(Point(x, y)))
            demo.add(
                "districts",
                id=str(code),
                name=name,
                level="community",
                code=str(code),
                geometry=shapely.orient_polygons(cell.intersection(outline)),
            )
    return streets


def _roads(demo: Demo) -> None:
    for n, road in enumerate(demo.inputs["roads"], start=1):
        demo.add("roads", id=f"RD{n:03d}", name=road["name"], geometry=LineString(road["line"]))


# ---- parks and zones ----------------------------------------------------------------------------


def _parks(demo: Demo) -> None:
    for p in demo.inputs["parks"]:
        (x, y), (w, h) = p["center"], p["size_m"]
        demo.add(
            "parks",
            id=p["id"],
            name=p["name"],
            operator=p["operator"],
            address=p["address"],
            industries=p["industries"],
            geometry=_rect(x, y, w, h),
        )


def _zones(demo: Demo) -> None:
    rng, deps = demo.rng, demo.inputs["departments"]
    dept_of = {
        "primary_school": "education",
        "middle_school": "education",
        "kindergarten": "education",
        "hospital": "health",
        "government": "housing",
        "cultural_relic": "culture",
    }
    n = 0

    def zone(name: str, kind: str, geom: Any, dept: str) -> None:
        nonlocal n
        n += 1
        demo.add("zones", id=f"Z{n:04d}", name=name, kind=kind, department=deps[dept], geometry=geom)

    for f in demo.inputs["facilities"]:
        (x, y), (w, h) = f["center"], f["size_m"]
        zone(f["name"], f["kind"], _rect(x, y, w, h, rng.uniform(-10, 10)), dept_of[f["kind"]])
    for w in demo.inputs["water_sources"]:
        zone(w["name"], w["kind"], shapely.orient_polygons(Polygon(w["outline"])), "environment")
    for s in demo.inputs["scenic"]:
        zone(
            s["name"],
            s["kind"],
            shapely.orient_polygons(Polygon(s["outline"])),
            "natural_resources",
        )
    taken = [z["geometry"] for z in demo.layers["zones"]] + [p["geometry"] for p in demo.layers["parks"]]
    sizes = {
        "primary_school": (160, 130, 9),
        "middle_school": (240, 200, 5),
        "kindergarten": (60, 50, 16),
        "hospital": (150, 120, 4),
    }
    labels = {
        "primary_school": "小学",
        "middle_school": "中学",
        "kindergarten": "幼儿园",
        "hospital": "医院",
    }
    for kind, (w, h, count) in sizes.items():
        for i in range(count):
            geom = _free_spot(demo, taken, w, h)
            taken.append(geom)
            area = _nearest_area(demo, geom.centroid)["name"]
            zone(f"崂山区{area}第{i + 1}{labels[kind]}", kind, geom, dept_of[kind])
    for kind, label, count in (
        ("gas_station", "加油站", 8),
        ("market", "农贸市场", 5),
        ("sanitation", "垃圾转运站", 20),
    ):
        for i in range(count):
            spot = _free_spot(demo, taken, 30, 30).centroid
            zone(
                f"{label}{i + 1:02d}",
                kind,
                spot,
                "enforcement" if kind == "sanitation" else "market",
            )


def _legal_zones(demo: Demo) -> None:
    """The areas the law draws (no-discharge zone, quasi-protection zone …), drawn last so that the
    random placement of everything else stays as it was."""
    deps = demo.inputs["departments"]
    for n, z in enumerate(demo.inputs["legal_zones"], start=1):
        if "outline" in z:
            geom = shapely.orient_polygons(Polygon(z["outline"]))
        else:
            (x, y), (w, h) = z["center"], z["size_m"]
            geom = _rect(x, y, w, h)
        demo.add(
            "zones",
            id=f"LZ{n:02d}",
            name=z["name"],
            kind=z["kind"],
            department=deps[z["department"]],
            geometry=geom,
        )


def _nearest_area(demo: Demo, p: Point) -> dict[str, Any]:
    def dist(a: dict[str, Any]) -> float:
        dx, dy = (p.x - a["center"][0]) * M_PER_DEG_LON, (p.y - a["center"][1]) * M_PER_DEG_LAT
        return math.hypot(dx, dy) / a["radius_m"]

    return min(demo.inputs["areas"], key=dist)


def _road_sites(demo: Demo, spacing_m: float) -> Iterator[tuple[str, float, float, float, int]]:
    """Points along every road: (road, lon, lat, bearing in degrees, index along the road)."""
    for road in demo.inputs["roads"]:
        line = LineString(road["line"])
        metric = LineString([(x * M_PER_DEG_LON, y * M_PER_DEG_LAT) for x, y in line.coords])
        steps = int(metric.length // spacing_m)
        for i in range(1, steps):
            a = metric.interpolate(i * spacing_m)
            b = metric.interpolate(min(i * spacing_m + 1.0, metric.length))
            bearing = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
            yield road["name"], a.x / M_PER_DEG_LON, a.y / M_PER_DEG_LAT, bearing, i


def _free_spot(demo: Demo, taken: list[Any], w: float, h: float) -> Polygon:
    """A w × h rectangle set back from a random road site, clear of what is already placed."""
    sites = list(_road_sites(demo, 90))
    tree_items = list(taken)
    for _ in range(500):
        _, x, y, bearing, _ = sites[int(demo.rng.integers(len(sites)))]
        side = 1 if demo.rng.random() < 0.5 else -1
        off = side * (h / 2 + 25)
        dx, dy = -math.sin(math.radians(bearing)) * off, math.cos(math.radians(bearing)) * off
        ox, oy = _m_to_deg(dx, dy)
        geom = _rect(x + ox, y + oy, w, h, bearing)
        if not any(geom.intersects(t) for t in tree_items):
            return geom
    raise RuntimeError("no free spot left for a facility")  # pragma: no cover


# ---- buildings ----------------------------------------------------------------------------------


def _buildings(demo: Demo, streets: dict[str, Polygon]) -> None:
    rng = demo.rng
    blocked = [
        z["geometry"]
        for z in demo.layers["zones"]
        if z["kind"] not in ("scenic_area", "water_source_2", "scenic_core")
        and z["geometry"].geom_type == "Polygon"
    ]
    placed: list[Polygon] = []
    district = shapely.union_all(list(streets.values()))
    numbers: dict[str, int] = {}
    for road, x, y, bearing, _ in _road_sites(demo, 45):
        for side in (1, -1):
            area = _nearest_area(demo, Point(x, y))
            near = _within_area(area, x, y)
            if rng.random() > (area["density"] if near else 0.12):
                continue
            use = _pick(rng, area["uses"]) if near else _pick(rng, {"residential": 3, "other": 1})
            depth = float(rng.uniform(14, 30))
            length = float(rng.uniform(22, 40))
            off = side * (depth / 2 + 14)
            ox, oy = _m_to_deg(-math.sin(math.radians(bearing)) * off, math.cos(math.radians(bearing)) * off)
            geom = _rect(x + ox, y + oy, length, depth, bearing)
            if not district.contains(geom) or any(geom.intersects(b) for b in blocked + placed[-60:]):
                continue
            placed.append(geom)
            numbers[road] = numbers.get(road, 0) + 1
            number = 2 * numbers[road] - (1 if side > 0 else 0)
            _add_building(demo, geom, road, number, use, (x, y))
    for park in demo.layers["parks"]:
        _park_buildings(demo, park, placed)
    _accept(demo)


def _within_area(area: dict[str, Any], x: float, y: float) -> bool:
    dx, dy = (x - area["center"][0]) * M_PER_DEG_LON, (y - area["center"][1]) * M_PER_DEG_LAT
    return math.hypot(dx, dy) <= area["radius_m"]


def _add_building(
    demo: Demo, geom: Polygon, road: str, number: int | str, use: str, front: tuple[float, float]
) -> None:
    rng = demo.rng
    lo, hi = FLOORS[use]
    bid = f"B{len(demo.layers.get('buildings', [])) + 1:05d}"
    flue = bool(rng.random() < 0.5) if use in ("commercial", "mixed") else use != "residential"
    demo.add(
        "buildings",
        id=bid,
        name=f"{road}{number}号{USE_NAMES[use]}",
        address=f"{road}{number}号",
        use=use,
        floors=int(rng.integers(lo, hi + 1)),
        accepted_on=None,
        acceptance_no=None,
        flue=flue,
        geometry=geom,
        _road=road,
        _number=number,
        _front=front,
    )


def _park_buildings(demo: Demo, park: dict[str, Any], placed: list[Polygon]) -> None:
    """Buildings inside a park carry sub-numbers of its house number: 株洲路153-1号 is 1号楼."""
    geom = park["geometry"]
    minx, miny, maxx, maxy = geom.bounds
    road, base = re.match(r"(.+?路)(\d+)号", park["address"]).groups()  # type: ignore[union-attr]
    k = 0
    for fx in (0.25, 0.5, 0.75):
        for fy in (0.3, 0.7):
            cx, cy = minx + fx * (maxx - minx), miny + fy * (maxy - miny)
            b = _rect(cx, cy, 70, 40)
            if any(b.intersects(p) for p in placed):
                continue
            k += 1
            use = "office" if k % 3 else "industrial"
            _add_building(demo, b, road, f"{base}-{k}", use, (cx, miny))
            rec = demo.layers["buildings"][-1]
            rec["name"] = f"{park['name']}{k}号楼"
            rec["_park"] = park["id"]
            placed.append(b)


def _accept(demo: Demo) -> None:
    rng, buildings = demo.rng, demo.layers["buildings"]
    weight = np.array(
        [3.0 if b["use"] in ("office", "commercial") or "_park" in b else 1.0 for b in buildings]
    )
    chosen = rng.choice(len(buildings), ACCEPTED_BUILDINGS, replace=False, p=weight / weight.sum())
    for i in sorted(chosen):
        day = _date_between(rng, dt.date(2006, 1, 1), dt.date(2025, 12, 31))
        buildings[i]["accepted_on"] = day
        buildings[i]["acceptance_no"] = f"崂建验备〔{day[:4]}〕{int(rng.integers(1, 999)):03d}号"


def _compounds(demo: Demo) -> None:
    """Residential compounds: the hull around clusters of residential buildings."""
    homes = [b for b in demo.layers["buildings"] if b["use"] == "residential"]
    by_road: dict[str, list[dict[str, Any]]] = {}
    for b in homes:
        by_road.setdefault(b["_road"], []).append(b)
    n = 0
    for road, group in by_road.items():
        group.sort(key=lambda b: b["_number"])
        for start in range(0, len(group) - 3, 8):
            chunk = group[start : start + 4]
            hull = shapely.union_all([b["geometry"].buffer(0.0001) for b in chunk]).convex_hull
            if any(
                hull.intersects(z["geometry"])
                for z in demo.layers["zones"]
                if z["kind"] in ("primary_school", "middle_school", "kindergarten", "hospital")
            ):
                continue
            n += 1
            demo.add(
                "zones",
                id=f"RC{n:03d}",
                name=f"{road}{chunk[0]['_number']}号小区",
                kind="residential_compound",
                department=demo.inputs["departments"]["housing"],
                geometry=shapely.orient_polygons(hull),
            )


# ---- house numbers, prohibited addresses ------------------------------------------------------


def _house_numbers(demo: Demo) -> None:
    rng = demo.rng
    taken = {(b["_road"], str(b["_number"])) for b in demo.layers["buildings"]}
    for b in demo.layers["buildings"]:
        c = b["geometry"].centroid
        fx, fy = b["_front"]
        door = Point(c.x + 0.3 * (fx - c.x), c.y + 0.3 * (fy - c.y))
        if not b["geometry"].contains(door):
            door = b["geometry"].representative_point()
        number = str(b["_number"])
        demo.add(
            "house_numbers",
            id=f"H{len(demo.layers.get('house_numbers', [])) + 1:05d}",
            address=f"山东省青岛市崂山区{b['address']}",
            road=b["_road"],
            number=number,
            building_id=b["id"],
            certificate_no=None,
            geometry=door,
        )
        side_door = (b["_road"], f"{number}-1") not in taken
        if b["use"] in ("mixed", "commercial") and rng.random() < 0.2 and side_door:  # 12-1号
            side = _random_point_in(b["geometry"], rng)
            demo.add(
                "house_numbers",
                id=f"H{len(demo.layers['house_numbers']) + 1:05d}",
                address=f"山东省青岛市崂山区{b['_road']}{number}-1号",
                road=b["_road"],
                number=f"{number}-1",
                building_id=b["id"],
                certificate_no=None,
                geometry=side,
            )
    numbers = demo.layers["house_numbers"]
    for i in sorted(rng.choice(len(numbers), CERTIFICATES, replace=False)):
        year = int(rng.integers(2018, 2026))
        numbers[i]["certificate_no"] = f"青崂门证〔{year}〕{int(rng.integers(1, 9999)):04d}号"


def _prohibited(demo: Demo) -> None:
    rng, deps = demo.rng, demo.inputs["departments"]
    reasons = [
        ("违法建筑", "enforcement", "*"),
        ("C级危房", "housing", "*"),
        ("D级危房", "housing", "*"),
        ("被征收房屋", "housing", "*"),
        ("超期临时建筑", "natural_resources", "*"),
        ("油烟扰民投诉集中，禁设餐饮", "environment", "62"),
        ("噪声扰民，禁设娱乐场所", "culture", "9011;9012;9013"),
    ]
    numbers = demo.layers["house_numbers"]
    buildings = {b["id"]: b for b in demo.layers["buildings"]}
    picks = rng.choice(len(numbers), PROHIBITED_ADDRESSES, replace=False)
    for n, i in enumerate(picks, start=1):
        hn = numbers[i]
        reason, dept, industries = reasons[int(rng.integers(len(reasons)))]
        start = _date_between(rng, dt.date(2019, 1, 1), dt.date(2025, 6, 30))
        end = None
        if n % 10 == 0:  # lifted since
            end = _date_between(rng, dt.date(2025, 7, 1), dt.date(2026, 6, 30))
        elif n % 17 == 0:  # announced, not yet in force
            start = "2027-01-01"
        as_polygon = n % 7 == 0
        geom = buildings[hn["building_id"]]["geometry"] if as_polygon else hn["geometry"]
        demo.add(
            "prohibited_addresses",
            id=f"P{n:03d}",
            address=hn["address"],
            reason=reason,
            industries=industries,
            department=deps[dept],
            effective_from=start,
            effective_to=end,
            house_number_id=hn["id"],
            radius_m=None if as_polygon else 10.0,
            geometry=geom,
        )


# ---- points of interest and vacancies ---------------------------------------------------------


def _pois(demo: Demo) -> None:
    rng = demo.rng
    for m in demo.inputs["metro"]:
        _poi(demo, m["name"], "metro", None, Point(*m["at"]))
    for road, x, y, _, i in _road_sites(demo, 450):
        _poi(demo, f"{road}站" if i == 1 else f"{road}{i}号站", "bus", None, Point(x, y))
    buildings = demo.layers["buildings"]
    for b in rng.choice(len(buildings), 160, replace=False):
        kind = "parking" if rng.random() < 0.7 else "park"
        where = buildings[b]["geometry"].centroid
        _poi(
            demo,
            f"{buildings[b]['_road']}{'停车场' if kind == 'parking' else '街心公园'}",
            kind,
            None,
            where,
        )
    for zone in demo.layers["zones"]:  # each residential compound is a place where people live
        if zone["kind"] == "residential_compound":
            _poi(demo, zone["name"], "residential", None, zone["geometry"].representative_point())
    for b in buildings:
        if b["use"] == "office":
            _poi(demo, b["name"], "office", None, b["geometry"].representative_point())
    weights = np.array(
        [{"commercial": 6, "mixed": 5, "office": 4}.get(b["use"], 1) for b in buildings], float
    )
    count = 0
    while count < MIN_BUSINESS_POIS:
        b = buildings[int(rng.choice(len(buildings), p=weights / weights.sum()))]
        code = _pick(rng, BUSINESS_MIX[b["use"]])
        category = CATEGORY_OF_DIVISION.get(code[:2], "business")
        name = f"{b['_road']}{['鑫', '福', '海', '崂', '山', '顺', '和', '盛'][count % 8]}{code}店"
        _poi(demo, name, category, code, _random_point_in(b["geometry"], rng))
        count += 1


def _poi(demo: Demo, name: str, category: str, code: str | None, where: Point) -> None:
    n = len(demo.layers.get("pois", [])) + 1
    demo.add("pois", id=f"POI{n:05d}", name=name, category=category, industry=code, geometry=where)


def _vacancies(demo: Demo) -> None:
    rng = demo.rng
    statuses = {"available": 70, "reserved": 10, "leased": 15, "withdrawn": 5}
    candidates = [
        b for b in demo.layers["buildings"] if "_park" in b or b["use"] in ("office", "commercial", "mixed")
    ]
    n = 0
    for b in candidates:
        per = 6 if "_park" in b else int(rng.integers(0, 2))
        for _ in range(per):
            n += 1
            floor = int(rng.integers(-1 if b["use"] == "commercial" else 1, b["floors"] + 1)) or 1
            in_park = "_park" in b
            updated = REFERENCE_DATE - dt.timedelta(days=int(rng.integers(0, 60)))
            demo.add(
                "vacancies",
                id=f"V{n:05d}",
                park_id=b.get("_park"),
                building_id=b["id"],
                address=f"{b['address']}{floor}层{int(rng.integers(1, 30)):02d}室",
                floor=floor,
                area_m2=round(float(rng.uniform(30, 600)), 1),
                rent=round(float(rng.uniform(40, 160 if b["use"] != "industrial" else 60)), 1),
                use=b["use"],
                status=_pick(rng, statuses),
                prefiled=bool(in_park and rng.random() < 0.7),
                available_from=_date_between(rng, dt.date(2026, 9, 1), dt.date(2027, 3, 1)),
                updated_at=updated.isoformat(),
                geometry=_random_point_in(b["geometry"], rng),
            )


# ---- writing ------------------------------------------------------------------------------------

FILE_OF_LAYER = {
    "districts": "districts.geojson",
    "roads": "roads.geojson",
    "buildings": "buildings.gpkg",
    "house_numbers": "house_numbers.csv",
    "prohibited_addresses": "prohibited_addresses.geojson",
    "zones": "zones.geojson",
    "pois": "pois.csv",
    "parks": "parks.geojson",
    "vacancies": "vacancies.geojson",
}
LOAD_ORDER = [
    "districts",
    "roads",
    "zones",
    "parks",
    "buildings",
    "house_numbers",
    "prohibited_addresses",
    "pois",
    "vacancies",
    "rules",
]


def write_demo(out_dir: str | Path, seed: int = SEED) -> dict[str, Path]:
    """Generate the demo and write one file per layer (several formats, as departments send them)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, gdf in generate(seed).items():
        public = gdf[[c for c in gdf.columns if not c.startswith("_")]]
        path = out / FILE_OF_LAYER[name]
        if path.suffix == ".csv" and (public.geom_type == "Point").all():
            frame = pd.DataFrame(public.drop(columns="geometry"))
            frame.insert(1, "lon", public.geometry.x.round(7))
            frame.insert(2, "lat", public.geometry.y.round(7))
            frame.to_csv(path, index=False)
        else:
            path.unlink(missing_ok=True)
            write_layer_file(public, path)
        written[name] = path
    written["rules"] = layers_dir() / "rules.yaml"
    return written
