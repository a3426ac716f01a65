"""Matching and scoring premises for an entrepreneur: the geo adapter over :mod:`siteselect.scoring`.

From "what I want to open" and a few constraints to a ranked, explained list of available premises
(and, on request, certified addresses), with the prohibited ones set aside with their reasons, a
side-by-side comparison of chosen sites, and a suitability surface over H3 cells.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from siteselect import industry, scoring
from siteselect.check import checker_for
from siteselect.errors import InvalidInputError
from siteselect.grid import (
    cell_centres,
    cell_names,
    cell_polygons,
    cell_samples,
    check_resolution,
    polygon_centre_cells,
)
from siteselect.index import Snapshot
from siteselect.locating import locator_for
from siteselect.premises import Premises, today

MAX_RESULTS = 200
SURFACE_MAX_CELLS = 60_000


@dataclass(frozen=True)
class Constraints:
    """What the entrepreneur asks of the premises."""

    area_min: float | None = None
    area_max: float | None = None
    max_rent: float | None = None
    streets: tuple[str, ...] = ()
    floor_min: int | None = None
    floor_max: int | None = None
    prefiled_only: bool = False
    uses: tuple[str, ...] = ()
    parks: tuple[str, ...] = ()
    include_addresses: bool = False

    def __post_init__(self) -> None:
        for name in ("area_min", "area_max", "max_rent"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise InvalidInputError(f"{name} must be a non-negative number, got {value!r}")
        if self.max_rent is not None and self.max_rent == 0:
            raise InvalidInputError("max_rent must be above 0")
        for low, high in (("area_min", "area_max"), ("floor_min", "floor_max")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise InvalidInputError(f"{low} {lo} is above {high} {hi}")


class Scorer:
    """Scores places in one snapshot: trees of POIs in the planar frame, district shares."""

    def __init__(self, snapshot: Snapshot):
        self.snap = snapshot
        pois = snapshot.layer("pois")
        xy = pois.coordinates()
        categories = pois.features["category"].to_numpy()
        self.trees = {c: cKDTree(xy[categories == c]) for c in np.unique(categories)}
        codes = pois.features["industry"].to_numpy()
        business = np.array([c is not None for c in codes])
        self.business_xy = xy[business]
        self.business_codes = np.array([c for c in codes if c is not None], dtype=object)
        self.all_business = cKDTree(self.business_xy)
        self._prefix_trees: dict[str, cKDTree | None] = {}
        self._address_memo = Counts()  # counts around the certified addresses
        self._vacancy_memo = Counts()  # around the vacancies
        self.typical_rent = _typical_rent(snapshot)
        self._district = snapshot.district  # figures of the whole district, when this is a region
        if self._district is not None:
            self.typical_rent = self._district["typical_rent"]
        streets = snapshot.layer("districts")
        rows = np.flatnonzero((streets.features["level"] == "street").to_numpy())
        self.street_names = streets.features["name"].to_numpy()[rows]
        self.street_shapes = streets.local[rows]

    def district_share(self, division: str) -> float:
        """The share of the district's businesses in a division (for the location quotient)."""
        if self._district is not None:
            return float(self._district["shares"].get(division, 0.0))
        tree = self._tree(division)
        return (tree.n if tree is not None else 0) / max(len(self.business_codes), 1)

    def district_figures(self) -> dict[str, Any]:
        """What a region of this snapshot needs to score as the whole district would."""
        divisions = {str(c)[:2] for c in self.business_codes}
        return {"shares": {d: self.district_share(d) for d in divisions}, "typical_rent": self.typical_rent}

    @functools.cached_property
    def _distinct_codes(self) -> tuple[NDArray[np.str_], NDArray[np.intp]]:
        """The distinct industry codes of the businesses, and each business's among them."""
        codes, of_code = np.unique(np.asarray(self.business_codes, dtype=str), return_inverse=True)
        return codes, of_code

    def _tree(self, prefix: str) -> cKDTree | None:
        """Businesses whose industry falls under a prefix."""
        if prefix not in self._prefix_trees:
            # A city has a million businesses but a few hundred codes: match each code once.
            codes, of_code = self._distinct_codes
            mask = np.array([industry.matches(c, prefix) for c in codes.tolist()], dtype=bool)[of_code]
            self._prefix_trees[prefix] = cKDTree(self.business_xy[mask]) if mask.any() else None
        return self._prefix_trees[prefix]

    @property
    def radius(self) -> float:
        """What is counted around a place lies within this many metres (walking distance)."""
        return float(scoring.config()["walking_m"])

    # The trees are queried in the calling thread (workers=1): a thread pool started per call cost
    # more than it saved, and a server's workers already keep every core busy.
    # Counts are kept as 32-bit integers, half the room of floats: a city's pool keeps forty of them
    # for half a million certified addresses. They are floats again, the same numbers, where used.
    def _count(self, tree: cKDTree | None, xy: NDArray[np.float64], radius: float) -> NDArray[np.int32]:
        if tree is None or tree.n == 0:
            return np.zeros(len(xy), dtype=np.int32)
        return tree.query_ball_point(xy, radius, return_length=True, workers=1).astype(np.int32)

    def _nearest(self, category: str, xy: NDArray[np.float64]) -> NDArray[np.float64]:
        tree = self.trees.get(category)
        if tree is None or tree.n == 0:
            return np.full(len(xy), np.nan)
        return np.asarray(tree.query(xy, workers=1)[0], dtype=float)

    def facts(self, xy: NDArray[np.float64], code: str, memo: Counts | None = None) -> dict[str, Any]:
        """What lies around each place (planar x, y): counts by category, businesses, transit.

        ``memo`` keeps each count between calls on the same places (the candidate pool), so an
        industry's first match only counts what no earlier match has.
        """
        memo = Counts() if memo is None else memo
        family = scoring.config()["families"][scoring.family_of(code)]
        radius = self.radius

        def count(key: Any, tree: cKDTree | None) -> NDArray[np.float64]:
            return memo.get(key, xy, lambda places: self._count(tree, places, radius)).astype(float)

        def nearest(category: str) -> NDArray[np.float64]:
            return memo.get(("near", category), xy, lambda places: self._nearest(category, places))

        division_tree = self._tree(code[:2])
        same = count(("prefix", code[:2]), division_tree)
        everything = count(("all",), self.all_business)
        district_share = self.district_share(code[:2])
        local_share = np.where(everything > 0, same / np.maximum(everything, 1), 0.0)
        related = [count(("prefix", p), self._tree(p)) for p in family["related"]]
        return {
            "counts": {c: count(("category", c), self.trees.get(c)) for c in family["amenities"]},
            "same": same,
            "related": np.sum(related, axis=0) if related else np.zeros(len(xy)),
            "quotient": local_share / district_share if district_share > 0 else np.zeros(len(xy)),
            "metro_m": nearest("metro"),
            "bus_m": nearest("bus"),
            "radius": radius,
        }

    def scores(
        self,
        facts: dict[str, Any],
        code: str,
        rent: NDArray[np.float64],
        area: NDArray[np.float64],
        constraints: Constraints,
        floor: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float64]:
        """Criterion scores (n × criteria, NaN where missing) from the facts, rent, area and floor."""
        family = scoring.config()["families"][scoring.family_of(code)]
        floor = np.full(len(rent), np.nan) if floor is None else floor
        facts["rent"], facts["area"], facts["floor"] = rent, area, floor
        facts["preferred_floors"] = scoring.preferred_floors(code)
        facts["floors_note"] = family.get("floors_note")
        return np.column_stack([
            scoring.amenity_scores(facts["counts"], family["amenities"]),
            scoring.clustering_scores(facts["same"], facts["related"], facts["quotient"]),
            scoring.access_scores(facts["metro_m"], facts["bus_m"]),
            scoring.cost_scores(rent, constraints.max_rent, self.typical_rent),
            scoring.size_scores(area, constraints.area_min, constraints.area_max),
            scoring.floor_scores(floor, facts["preferred_floors"]),
        ])  # fmt: skip

    def criteria(
        self,
        xy: NDArray[np.float64],
        code: str,
        rent: NDArray[np.float64],
        area: NDArray[np.float64],
        constraints: Constraints,
        floor: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.float64], dict[str, Any]]:
        """Scores and the facts behind them, for any places: the batch-scoring path."""
        facts = self.facts(xy, code)
        return self.scores(facts, code, rent, area, constraints, floor), facts

    @functools.cached_property
    def pool(self) -> tuple[pd.DataFrame, NDArray[np.float64], NDArray[np.object_]]:
        """Every candidate, its planar position and street: matched many times. The vacancies come
        first, then the certified addresses, each part counted apart."""
        parts = [self._vacancy_part, self._address_part]
        table = pd.concat([p[0] for p in parts], ignore_index=True)[CANDIDATE_COLUMNS]
        return table, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])

    @functools.cached_property
    def _vacancy_part(self) -> tuple[pd.DataFrame, NDArray[np.float64], NDArray[np.object_]]:
        return self._part(vacancy_candidates(self.snap))

    @functools.cached_property
    def _address_part(self) -> tuple[pd.DataFrame, NDArray[np.float64], NDArray[np.object_]]:
        return self._part(address_candidates(self.snap))

    def _part(self, table: pd.DataFrame) -> tuple[pd.DataFrame, NDArray[np.float64], NDArray[np.object_]]:
        # Numbers and days typed once here, not in every match (a city's pool is 600,000 rows).
        table = table.assign(
            floor=pd.to_numeric(table["floor"], errors="coerce").astype(float),
            area_m2=table["area_m2"].astype(float), rent=table["rent"].astype(float),
            updated_at=pd.to_datetime(table["updated_at"], utc=True),
        )  # fmt: skip
        points = self.snap.frame.points(table["lon"].to_numpy(float), table["lat"].to_numpy(float))
        return table, shapely.get_coordinates(points).reshape(-1, 2), self.streets_of(points)

    def pool_facts(self, code: str) -> dict[str, Any]:
        """The facts of the candidate pool for an industry; each count is made once per pool part."""
        vacancies = self.facts(self._vacancy_part[1], code, self._vacancy_memo)
        addresses = self.facts(self._address_part[1], code, self._address_memo)
        return _joined(vacancies, addresses)

    def pool_with_facts(
        self, code: str, addresses: bool = True
    ) -> tuple[tuple[pd.DataFrame, Any, Any], dict[str, Any]]:
        """The pool and its facts; without ``addresses``, its vacancies' part alone (no need to join
        the facts of a city's certified addresses only to leave them out)."""
        if addresses:
            return self.pool, self.pool_facts(code)
        return self._vacancy_part, self.facts(self._vacancy_part[1], code, self._vacancy_memo)

    def successor(self, snapshot: Snapshot) -> Scorer:
        """This scorer for a snapshot that follows its own with the same layers it keeps (see
        ``scorer_for``): its trees, and the addresses' part of the pool with its counts, are kept;
        the vacancies' part too where the vacancies are the same, else it is worked out again on
        the next match."""
        scorer = copy.copy(self)
        scorer.snap = snapshot
        if snapshot.layers.get("vacancies") is self.snap.layers.get("vacancies"):
            return scorer  # another layer changed (a prohibited list): nothing to count again
        for made in ("pool", "_vacancy_part"):
            scorer.__dict__.pop(made, None)
        counted = self.__dict__.get("_vacancy_part")  # the places counted so far, if any
        scorer._vacancy_memo = Counts((counted[1], self._vacancy_memo.values) if counted else None)
        if scorer._district is None:
            scorer.typical_rent = _typical_rent(snapshot)
        return scorer

    def warm(self) -> None:
        """Count what every family needs around the pool, and around the vacancies each division's
        businesses (a match counts its own industry's), so that no match waits for it."""
        for family in scoring.config()["families"].values():
            for prefix in family["prefixes"]:
                code = next((c.code for c in industry.classes() if industry.matches(c.code, prefix)), None)
                if code is not None:  # each part counted, not joined: a match joins what it uses
                    self.facts(self._vacancy_part[1], code, self._vacancy_memo)
                    self.facts(self._address_part[1], code, self._address_memo)
        xy, radius = self._vacancy_part[1], self.radius
        for division in sorted({code[:2] for code in self._distinct_codes[0].tolist()}):
            count = functools.partial(self._count, self._tree(division), radius=radius)
            self._vacancy_memo.get(("prefix", division), xy, count)

    def streets_of(self, points: NDArray[np.object_]) -> NDArray[np.object_]:
        out = np.full(len(points), None, dtype=object)
        for name, shape in zip(self.street_names, self.street_shapes):
            out[shapely.intersects(shape, points)] = name
        return out


class Counts:
    """What was counted around one set of places (a part of the candidate pool), by question.

    Counts made around an earlier set — the vacancies before a listing was written — are taken
    over for the places in both, so that only a new place is counted: a city's hundred thousand
    vacancies take seconds a question, and a listing written makes a new pool."""

    def __init__(self, earlier: tuple[NDArray[np.float64], dict[Any, NDArray[Any]]] | None = None):
        self.values: dict[Any, NDArray[Any]] = {}
        self._earlier = earlier  # (the earlier places, their counts)
        self._rows: NDArray[np.intp] | None = None  # each place's row among the earlier ones, or -1

    def get(
        self, key: Any, xy: NDArray[np.float64], count: Callable[[NDArray[np.float64]], NDArray[Any]]
    ) -> NDArray[Any]:
        """The counts under ``key`` around the places ``xy`` (always the same ones), made with
        ``count`` (of any of them) where they are not known."""
        if key not in self.values:
            self.values[key] = self._made(key, xy, count)
            if self._earlier is not None and self._earlier[1].keys() <= self.values.keys():
                self._earlier = self._rows = None  # all taken over
        return self.values[key]

    def _made(self, key: Any, xy: NDArray[np.float64], count: Callable[..., Any]) -> NDArray[Any]:
        if self._earlier is None or key not in self._earlier[1]:
            return np.asarray(count(xy))
        if self._rows is None:
            row_of = {place: row for row, place in enumerate(map(tuple, self._earlier[0].tolist()))}
            self._rows = np.array([row_of.get(tuple(p), -1) for p in xy.tolist()], dtype=np.intp)
        out = self._earlier[1][key][np.maximum(self._rows, 0)]
        new = self._rows < 0
        if new.any():
            out[new] = count(xy[new])
        return out


def _typical_rent(snapshot: Snapshot) -> float:
    """The median asking rent of the vacancies (80 元/m²/month without any)."""
    vacancies = snapshot.layer("vacancies").features if snapshot.has("vacancies") else None
    rents = np.array([] if vacancies is None else vacancies["rent"].dropna().to_numpy(float))
    return float(np.median(rents)) if len(rents) else 80.0


SCORER_LAYERS = ("pois", "districts", "house_numbers", "buildings")  # what a scorer keeps, vacancies aside


def scorer_for(snapshot: Snapshot) -> Scorer:
    """The scorer of a snapshot, built once (from the previous one's where what it keeps is the same)."""
    previous = snapshot.made_before("scorer", SCORER_LAYERS)
    return snapshot.made("scorer", lambda: previous.successor(snapshot) if previous else Scorer(snapshot))


def explain(
    i: int, scores: NDArray[np.float64], facts: dict[str, Any], constraints: Constraints, typical: float
) -> dict[str, Any]:
    """One line in Chinese and English per criterion for candidate ``i``."""
    r = int(facts["radius"])
    amen = {c: int(v[i]) for c, v in facts["counts"].items()}
    out: dict[str, Any] = {}
    out["amenities"] = (
        f"{r}米内：" + "，".join(f"{zh_category(c)}{n}处" for c, n in amen.items()),
        f"within {r} m: " + ", ".join(f"{n} {c}" for c, n in amen.items()),
    )
    same, related, lq = int(facts["same"][i]), int(facts["related"][i]), facts["quotient"][i]
    out["clustering"] = (
        f"{r}米内同类商户{same}家、相关商户{related}家，区位商{lq:.2f}",
        f"{same} same-division and {related} related businesses within {r} m; location quotient {lq:.2f}",
    )
    metro, bus = facts["metro_m"][i], facts["bus_m"][i]
    out["access"] = (
        f"最近地铁站{_metres(metro, '米')}，最近公交站{_metres(bus, '米')}",
        f"nearest metro {_metres(metro, ' m')}, nearest bus stop {_metres(bus, ' m')}",
    )
    rent, area = facts["rent"][i], facts["area"][i]
    reference = constraints.max_rent or typical
    label_zh, label_en = ("预算", "budget") if constraints.max_rent else ("区内常见租金", "typical rent")
    out["cost"] = (
        (
            f"租金{rent:g}元/㎡·月，{label_zh}{reference:g}",
            f"rent {rent:g} yuan/m²/month, {label_en} {reference:g}",
        )
        if not math.isnan(rent)
        else ("无租金信息", "no rent given")
    )
    if constraints.area_min is None and constraints.area_max is None:
        out["size"] = ("未指定面积需求", "no area range asked for")
    elif math.isnan(area):
        out["size"] = ("无面积信息", "no area given")
    else:
        lo, hi = constraints.area_min or 0, constraints.area_max or math.inf
        out["size"] = (f"面积{area:g}㎡，需求{lo:g}–{hi:g}㎡", f"area {area:g} m², wanted {lo:g}–{hi:g} m²")
    out["floor"] = _floor_explanation(facts["floor"][i], facts["preferred_floors"], facts["floors_note"])
    return {
        name: {
            "score": None if math.isnan(scores[i, k]) else round(float(scores[i, k]), 1),
            "missing": bool(math.isnan(scores[i, k])),
            "explanation_zh": out[name][0],
            "explanation_en": out[name][1],
        }
        for k, name in enumerate(scoring.CRITERIA)
    }


def _floor_explanation(
    floor: float, preferred: tuple[int, int] | None, note: list[str] | None
) -> tuple[str, str]:
    if preferred is None:
        return "本行业对楼层无特别要求", "no floor preference for this industry"
    if math.isnan(floor):
        return "无楼层信息", "no floor given"
    lo, hi = preferred
    zh_note, en_note = note or ("", "")
    where_zh = f"地下{-int(floor)}层" if floor < 0 else f"{int(floor)}层"
    return f"位于{where_zh}；{zh_note}（{lo}–{hi}层）", f"on floor {int(floor)}; {en_note} (floors {lo}–{hi})"


def zh_category(category: str) -> str:
    names = {
        "metro": "地铁站",
        "bus": "公交站",
        "parking": "停车场",
        "dining": "餐饮",
        "retail": "零售",
        "bank": "银行",
        "hotel": "酒店",
        "park": "公园",
        "office": "写字楼",
        "residential": "住宅小区",
        "school": "学校",
        "hospital": "医院",
        "business": "商户",
    }
    return names.get(category, category)


def _metres(value: float, unit: str) -> str:
    return "—" if math.isnan(value) else f"{value:,.0f}{unit}"


# ---- candidates ---------------------------------------------------------------------------------

CANDIDATE_COLUMNS = [
    "updated_at",
    "id",
    "kind",
    "address",
    "building_id",
    "park_id",
    "floor",
    "area_m2",
    "rent",
    "use",
    "prefiled",
    "lon",
    "lat",
]


def vacancy_candidates(snapshot: Snapshot) -> pd.DataFrame:
    """The available vacancies (the live listings, where the catalog has put them in the snapshot)."""
    v = locator_for(snapshot).vacancies
    if not len(v):
        return pd.DataFrame(columns=CANDIDATE_COLUMNS)
    return _vacancy_rows(v[v["status"] == "available"])[CANDIDATE_COLUMNS]


def address_candidates(snapshot: Snapshot) -> pd.DataFrame:
    """Every certified house-number address, as a candidate without area or rent."""
    h = snapshot.layer("house_numbers").features
    h = h[h["certificate_no"].notna()]
    buildings = snapshot.layer("buildings").features
    uses = dict(zip(buildings["id"], buildings["use"]))
    return pd.DataFrame(
        {
            "id": h["id"],
            "kind": "address",
            "address": h["address"],
            "building_id": h["building_id"],
            "park_id": None,
            "floor": None,
            "area_m2": np.nan,
            "rent": np.nan,
            "use": [uses.get(b) for b in h["building_id"]],
            "prefiled": False,
            "lon": h.geometry.x,
            "lat": h.geometry.y,
            "updated_at": pd.NaT,
        }
    )[CANDIDATE_COLUMNS]


def _joined(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Facts of two sets of places as the facts of both, in that order (arrays joined, settings kept)."""
    out: dict[str, Any] = {}
    for key, value in first.items():
        if isinstance(value, dict):
            out[key] = _joined(value, second[key])
        elif isinstance(value, np.ndarray):
            out[key] = np.concatenate([value, second[key]])
        else:
            out[key] = value
    return out


def _vacancy_rows(v: pd.DataFrame) -> pd.DataFrame:
    """Vacancies (as located, with lon and lat) as candidate rows."""
    return pd.DataFrame({
        "id": v["id"], "kind": "vacancy", "address": v["address"], "building_id": v["building_id"],
        "park_id": v["park_id"], "floor": v["floor"], "area_m2": v["area_m2"], "rent": v["rent"],
        "use": v["use"], "prefiled": v["prefiled"].fillna(False).astype(bool),
        "lon": v["lon"], "lat": v["lat"],
        "updated_at": pd.to_datetime(v["updated_at"], utc=True, errors="coerce", format="mixed")
        if "updated_at" in v else pd.NaT,
    })[CANDIDATE_COLUMNS]  # fmt: skip


def _filter(table: pd.DataFrame, c: Constraints, streets: NDArray[np.object_]) -> pd.Series:
    """Exact constraint filters. A value the candidate does not have is not held against it."""
    keep = pd.Series(True, index=table.index)
    for passed in _filters(table, c, streets).values():
        keep &= passed
    return keep


def _filters(table: pd.DataFrame, c: Constraints, streets: NDArray[np.object_]) -> dict[str, pd.Series]:
    """Each constraint asked for, by its field: which candidates meet it."""
    area, rent = table["area_m2"].astype(float), table["rent"].astype(float)
    floor = pd.to_numeric(table["floor"], errors="coerce")
    out: dict[str, pd.Series] = {}
    if c.area_min is not None:
        out["area_min"] = area.isna() | (area >= c.area_min)
    if c.area_max is not None:
        out["area_max"] = area.isna() | (area <= c.area_max)
    if c.max_rent is not None:
        out["max_rent"] = rent.isna() | (rent <= c.max_rent)
    if c.floor_min is not None:
        out["floor_min"] = floor.isna() | (floor >= c.floor_min)
    if c.floor_max is not None:
        out["floor_max"] = floor.isna() | (floor <= c.floor_max)
    if c.streets:
        out["streets"] = pd.Series(np.isin(streets, list(c.streets)), index=table.index)
    if c.prefiled_only:
        out["prefiled_only"] = table["prefiled"].astype(bool)
    if c.uses:
        out["uses"] = table["use"].isin(c.uses)
    if c.parks:
        out["parks"] = table["park_id"].isin(c.parks)
    return out


FILTER_VALUE = {  # the candidate's own value a constraint was held against
    "area_min": "area_m2", "area_max": "area_m2", "max_rent": "rent", "floor_min": "floor",
    "floor_max": "floor", "prefiled_only": "prefiled", "uses": "use", "parks": "park_id",
}  # fmt: skip


def _filtered_out(
    table: pd.DataFrame, c: Constraints, streets: NDArray[np.object_]
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """The vacancies the constraints set aside: how many by each constraint, and each one with the
    first constraint it failed, its own value and what was asked."""
    filters = _filters(table, c, streets)
    vacancy = (table["kind"] == "vacancy").to_numpy()
    counts = {name: int((~passed.to_numpy() & vacancy).sum()) for name, passed in filters.items()}
    listed = []
    for i in np.flatnonzero(vacancy).tolist():
        failed = next((name for name, passed in filters.items() if not passed.iat[i]), None)
        if failed is None:
            continue
        row = table.iloc[i]
        value = streets[i] if failed == "streets" else row[FILTER_VALUE[failed]]
        asked = getattr(c, failed)
        listed.append({
            "id": row["id"], "address": _text(row["address"]), "verdict": None, "filter": failed,
            "value": None if value is None or pd.isna(value) else _plain(value),
            "wanted": list(asked) if isinstance(asked, tuple) else asked, "reasons": [],
        })  # fmt: skip
    return counts, listed


def _plain(value: Any) -> Any:
    """A value of a pandas row as JSON writes it (numpy numbers as Python's)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_streets(scorer: Scorer, constraints: Constraints) -> None:
    known = set(scorer.street_names.tolist())
    unknown = [s for s in constraints.streets if s not in known]
    if unknown:
        raise InvalidInputError(f"streets: unknown {unknown}; known streets are {', '.join(sorted(known))}")


def _check_parks(snapshot: Snapshot, constraints: Constraints) -> None:
    known = set(snapshot.layer("parks").features["id"].tolist()) if snapshot.has("parks") else set()
    unknown = [p for p in constraints.parks if p not in known]
    if unknown:
        raise InvalidInputError(f"parks: unknown {unknown}; give park ids ({len(known)} parks are known)")


def _weights(code: str, weights: dict[str, float] | None) -> dict[str, float]:
    return scoring.normalize_weights(weights if weights is not None else scoring.default_weights(code))


def _score_table(
    snapshot: Snapshot, table: pd.DataFrame, code: str, constraints: Constraints, weights: dict[str, float]
) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[str, Any]]:
    scorer = scorer_for(snapshot)
    points = snapshot.frame.points(table["lon"].to_numpy(float), table["lat"].to_numpy(float))
    xy = shapely.get_coordinates(points)
    floor = pd.to_numeric(table["floor"], errors="coerce").to_numpy(float) if "floor" in table else None
    scores, facts = scorer.criteria(
        xy, code, table["rent"].to_numpy(float), table["area_m2"].to_numpy(float), constraints, floor
    )
    return scores, scoring.totals(scores, weights), facts


CHECK_CHUNK = 64
STALE_FACTOR = 0.8
STALE_AFTER_DAYS = 30  # the service's default (its setting ``stale_after_days``)


def _stale(table: pd.DataFrame, as_of: dt.date | None, days: int) -> NDArray[np.bool_]:
    """Listings whose operator has not confirmed them within ``days`` before the day judged."""
    day = np.datetime64(as_of or today(), "D")  # midnight, UTC
    updated = pd.to_datetime(table["updated_at"], utc=True).dt.tz_convert(None).to_numpy()
    return np.asarray(day - updated >= np.timedelta64(days + 1, "D"))  # never confirmed (NaT): not stale


def _penalised(total: NDArray[np.float64], stale: NDArray[np.bool_]) -> NDArray[np.float64]:
    """A listing that may be gone scores lower: in the list, a comparison and a report alike."""
    return np.where(stale, total * STALE_FACTOR, total)


def match(
    snapshot: Snapshot,
    code: str,
    constraints: Constraints | None = None,
    weights: dict[str, float] | None = None,
    limit: int = 10,
    as_of: dt.date | None = None,
    stale_after_days: int = 30,
    include_excluded: bool = False,
) -> dict[str, Any]:
    """Rank the premises that suit a business, best first, with reasons and scores.

    Candidates are scored first (cheap) and checked in score order (exact) until ``limit`` allowed
    ones are found; the prohibited ones met on the way are listed apart with their reasons. With
    ``include_excluded`` every vacancy is checked, so every prohibited one is listed (certified
    addresses, a city's worth, only as far as the ranking reached), and so is every vacancy the
    constraints set aside, with the constraint; the ranking itself is the same. The stability of
    each result is measured among the best ``5 × limit`` (at least 100) candidates.
    """
    code = industry.normalize_code(code)
    constraints = constraints or Constraints()
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInputError(f"limit must be from 1 to {MAX_RESULTS}, got {limit}")
    w = _weights(code, weights)
    scorer = scorer_for(snapshot)
    _check_streets(scorer, constraints)
    _check_parks(snapshot, constraints)
    (table, _, streets), pool_facts = scorer.pool_with_facts(code, constraints.include_addresses)
    filtered, set_aside = _filtered_out(table, constraints, streets) if include_excluded else ({}, [])
    keep = _filter(table, constraints, streets).to_numpy(copy=True)
    if keep.all():  # nothing filtered out: no copies of a city's pool
        facts = dict(pool_facts)
    else:
        facts = {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in pool_facts.items()}
        facts["counts"] = {c: v[keep] for c, v in pool_facts["counts"].items()}
        table, streets = table[keep].reset_index(drop=True), streets[keep]
    floor = table["floor"].to_numpy(float)
    scores = scorer.scores(
        facts, code, table["rent"].to_numpy(float), table["area_m2"].to_numpy(float), constraints, floor
    )
    stale = _stale(table, as_of, stale_after_days)
    total = _penalised(scoring.totals(scores, w), stale)
    ranked_ids = table["id"].to_numpy()
    pool_size = max(5 * limit, 100)
    checks: dict[int, dict[str, Any]] = {}
    allowed: list[int] = []
    excluded: list[int] = []
    for chunk in _best_first(-np.nan_to_num(total, nan=-1), ranked_ids, CHECK_CHUNK):
        if len(allowed) >= pool_size:
            break
        for i, result in zip(chunk, checker_for(snapshot).check_many(_premises(table, chunk, code, as_of))):
            checks[i] = result
            (allowed if result.get("verdict") in ("permitted", "review") else excluded).append(i)
    # On request, the vacancies not reached too, for what they would leave out (the ranking is as it was).
    if include_excluded:
        vacancy = (table["kind"] == "vacancy").to_numpy()
        order = np.lexsort((ranked_ids, -np.nan_to_num(total, nan=-1)))
        rest = [i for i in order.tolist() if i not in checks and vacancy[i]]
        found = checker_for(snapshot).check_many(_premises(table, rest, code, as_of)) if rest else []
        for i, result in zip(rest, found):
            checks[i] = result
            if result.get("verdict") not in ("permitted", "review"):
                excluded.append(i)
    ranked = np.array(allowed, dtype=np.intp)
    stability = scoring.ranking_stability(scores[ranked], w, limit) if len(ranked) else np.empty(0)
    scored = _Scored(table, streets, checks, scores, total, facts, constraints, scorer.typical_rent, stale)
    results = [scored.entry(i, float(stability[n])) for n, i in enumerate(ranked[:limit].tolist())]
    family = scoring.family_of(code)
    return {
        "industry": industry.describe(code),
        "family": family,
        "family_title": scoring.config()["families"][family]["title"],
        "weights": w,
        "constraints": asdict(constraints),
        "results": results,
        "excluded": [_excluded(table.iloc[i], checks[i]) for i in excluded] + set_aside,
        "counts": {
            "candidates": int(keep.sum()),
            "checked": len(checks),
            "excluded": len(excluded),
        }
        | ({"filtered": filtered} if include_excluded else {}),
        "layer_versions": snapshot.versions,
    }


def _best_first(key: NDArray[np.float64], ids: NDArray[Any], size: int) -> Iterator[list[int]]:
    """Positions by ``key``, then by id, in chunks of ``size``: the order a full sort gives, sorted a
    block at a time as far as it is read. A match reads a few hundred of a city's hundred thousand
    candidates, and sorting them all by id (strings) took most of its time.

    >>> [c for c in _best_first(np.array([2.0, 1.0, 1.0, 0.0]), np.array(["d", "c", "b", "a"]), 3)]
    [[3, 2, 1], [0]]
    """
    done, block = 0, 16 * size  # how many are sorted, and how many more the next block takes
    below = -np.inf  # every key up to this one is sorted
    pending: list[int] = []
    while done < len(key):
        end = min(done + block, len(key))
        cut = np.partition(key, end - 1)[end - 1]  # the key of the end-th: ties with it come too
        rows = np.flatnonzero((key > below) & (key <= cut))
        pending += rows[np.lexsort((ids[rows], key[rows]))].tolist()
        done, below, block = done + len(rows), cut, block * 4
        while len(pending) >= size or (pending and done == len(key)):
            yield pending[:size]
            pending = pending[size:]


def _premises(table: pd.DataFrame, rows: list[int], code: str, as_of: dt.date | None) -> list[Premises]:
    """Candidates as premises: a vacancy by its id, a certified address by its text."""
    columns = (table[c].to_numpy()[rows].tolist() for c in ("kind", "id", "floor", "address"))
    out = []
    for kind, cid, floor, address in zip(*columns):
        if kind == "vacancy":
            level = None if math.isnan(floor) else int(floor)
            out.append(Premises(industry=code, vacancy_id=cid, floor=level, as_of=as_of, ref=cid))
        else:
            out.append(Premises(industry=code, address=address, as_of=as_of, ref=cid))
    return out


def _excluded(row: pd.Series, check: dict[str, Any]) -> dict[str, Any]:
    reasons = [r["title"] for r in check.get("reasons", []) if r["outcome"] == "violated"]
    return {
        "id": row["id"],
        "address": row["address"],
        "verdict": check.get("verdict", "error"),
        "reasons": reasons or [check.get("error", "")],
        "messages": [
            {"zh": r["message_zh"], "en": r["message_en"], "basis": r["basis"]}
            for r in check.get("reasons", [])
            if r["outcome"] == "violated"
        ],
    }


def _text(value: Any) -> str | None:
    """A text field of a candidate; a missing one (None or pandas' NaN) is None, never a NaN."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


@dataclass
class _Scored:
    """Candidates with their streets, checks and scores: what a ranked entry is made from."""

    table: pd.DataFrame
    streets: NDArray[np.object_]
    checks: dict[int, dict[str, Any]]
    scores: NDArray[np.float64]
    total: NDArray[np.float64]
    facts: dict[str, Any]
    constraints: Constraints
    typical_rent: float
    stale: NDArray[np.bool_] | None = None

    def entry(self, i: int, stability: float) -> dict[str, Any]:
        row, check, total = self.table.iloc[i], self.checks[i], self.total[i]
        return {
            "id": row["id"], "kind": row["kind"], "address": _text(row["address"]), "street": self.streets[i],
            "building_id": _text(row["building_id"]), "park_id": _text(row["park_id"]),
            "floor": None if pd.isna(row["floor"]) else int(row["floor"]),
            "area_m2": None if pd.isna(row["area_m2"]) else float(row["area_m2"]),
            "rent": None if pd.isna(row["rent"]) else float(row["rent"]),
            "use": _text(row["use"]), "prefiled": bool(row["prefiled"]),
            "lon": float(row["lon"]), "lat": float(row["lat"]),
            "verdict": check["verdict"], "flagged": check["verdict"] == "review",
            "open_points": [r["message_zh"] for r in check["reasons"] if r["outcome"] != "passed"],
            "score": None if math.isnan(total) else round(float(total), 1),
            "criteria": explain(i, self.scores, self.facts, self.constraints, self.typical_rent),
            "stability": round(stability, 3),
            "confirmed": None if pd.isna(row["updated_at"]) else row["updated_at"].date().isoformat(),
            "stale": bool(self.stale[i]) if self.stale is not None else False,
        }  # fmt: skip


# ---- comparison ---------------------------------------------------------------------------------


def compare(
    snapshot: Snapshot,
    code: str,
    sites: list[dict[str, Any]],
    weights: dict[str, float] | None = None,
    constraints: Constraints | None = None,
    as_of: dt.date | None = None,
    stale_after_days: int = STALE_AFTER_DAYS,
) -> dict[str, Any]:
    """2 to 5 sites side by side: verdicts, scores and their explanations."""
    if not 2 <= len(sites) <= 5:
        raise InvalidInputError(f"sites: compare 2 to 5 sites, got {len(sites)}")
    result, _ = assess_sites(snapshot, code, sites, weights, constraints, as_of, stale_after_days)
    return result


def assess_sites(
    snapshot: Snapshot,
    code: str,
    sites: list[dict[str, Any]],
    weights: dict[str, float] | None = None,
    constraints: Constraints | None = None,
    as_of: dt.date | None = None,
    stale_after_days: int = STALE_AFTER_DAYS,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """1 to 5 sites: the comparison (verdicts, scores, explanations) and the full check of each,
    scored as a match scores them (a listing not confirmed for a while scores lower)."""
    code = industry.normalize_code(code)
    if not 1 <= len(sites) <= 5:
        raise InvalidInputError(f"sites: give 1 to 5 sites, got {len(sites)}")
    constraints = constraints or Constraints()
    w = _weights(code, weights)
    premises = [_site_premises(n, site, code, as_of) for n, site in enumerate(sites)]
    checks = checker_for(snapshot).check_many(premises)
    for n, check in enumerate(checks):
        if "error" in check:
            raise InvalidInputError(f"sites[{n}]: {check['error']}")
    rows = _site_rows(snapshot, sites, checks)
    table = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    scores, total, facts = _score_table(snapshot, table, code, constraints, w)
    stale = _stale(table, as_of, stale_after_days)
    total = _penalised(total, stale)
    scorer = scorer_for(snapshot)
    streets = scorer.streets_of(
        snapshot.frame.points(table["lon"].to_numpy(float), table["lat"].to_numpy(float))
    )
    stability = scoring.ranking_stability(scores, w, 1)
    scored = _Scored(
        table, streets, dict(enumerate(checks)), scores, total, facts, constraints, scorer.typical_rent, stale
    )
    result = {
        "industry": industry.describe(code),
        "weights": w,
        "sites": [
            scored.entry(i, float(stability[i])) | {"reasons": checks[i]["reasons"]} for i in range(len(rows))
        ],
        "layer_versions": snapshot.versions,
    }
    return result, checks


def _site_premises(n: int, site: dict[str, Any], code: str, as_of: dt.date | None) -> Premises:
    """A site (a vacancy id, an address, or coordinates) as premises, located as any check is."""
    try:
        return Premises.parse(
            industry=code, as_of=as_of, ref=site.get("label") or f"site-{n + 1}",
            **{k: site.get(k) for k in ("vacancy_id", "address", "lon", "lat", "coordsys", "floor")},
        )  # fmt: skip
    except InvalidInputError as exc:
        raise InvalidInputError(f"sites[{n}]: {exc}") from None


def _site_rows(
    snapshot: Snapshot, sites: list[dict[str, Any]], checks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Checked sites as candidate rows: a vacancy's own row (the vacancies' rows made at once),
    else the place its check found."""
    locator = locator_for(snapshot)
    at = [locator.vacancy_rows[s["vacancy_id"]] for s in sites if s.get("vacancy_id")]
    table = _vacancy_rows(locator.vacancies.iloc[at])
    listed = iter([{str(k): v for k, v in row.items()} for row in table.to_dict("records")])
    return [
        next(listed) if site.get("vacancy_id") else _site_row(n, site, check)
        for n, (site, check) in enumerate(zip(sites, checks))
    ]


def _site_row(n: int, site: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
    """A site given by address or coordinates as a candidate row: the place its check found, with
    the area, rent and floor given."""
    building = check["building"] or {}
    return {
        "id": site.get("label") or f"site-{n + 1}",
        "kind": "site",
        "updated_at": pd.NaT,
        "address": site.get("address"),
        "building_id": building.get("id"),
        "park_id": None,
        "floor": site.get("floor"),
        "area_m2": site.get("area_m2", np.nan),
        "rent": site.get("rent", np.nan),
        "use": building.get("use"),
        "prefiled": check["address_proof"]["prefiled"],
        "lon": check["location"]["lon"],
        "lat": check["location"]["lat"],
    }


# ---- suitability surface ------------------------------------------------------------------------


def surface(
    snapshot: Snapshot,
    code: str,
    res: int = 9,
    weights: dict[str, float] | None = None,
    as_of: dt.date | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
    """H3 cells over the district (or the part of it in ``bbox``): the share of each cell where no
    rule forbids the industry (the share of its sample points whose check is not ``prohibited``),
    and the score at its centre (amenities, clustering and access: a cell has no rent or size)."""
    code = industry.normalize_code(code)
    check_resolution(res)
    if not 6 <= res <= 11:
        raise InvalidInputError(f"res must be from 6 to 11 for a district surface, got {res}")
    w = _weights(code, weights)
    districts = snapshot.layer("districts").features
    district = shapely.union_all(
        districts[districts["level"] == "district"].geometry.to_numpy()
    )  # all served
    if bbox is not None:
        parts = shapely.get_parts(district.intersection(shapely.box(*bbox)))
        district = shapely.MultiPolygon([p for p in parts if p.geom_type == "Polygon"])  # no edge slivers
    cells = np.empty(0, dtype=np.int64) if district.is_empty else polygon_centre_cells(district, res)
    if not len(cells):  # a view of the sea, or narrower than a cell
        columns: dict[str, list[Any]] = {"cell": [], "permitted_share": [], "score": []}
        return gpd.GeoDataFrame(columns, geometry=[], crs="EPSG:4326")
    if len(cells) > SURFACE_MAX_CELLS:
        raise InvalidInputError(f"res {res} gives {len(cells):,} cells, more than {SURFACE_MAX_CELLS:,}")
    # Small cells are sampled at every other vertex: there four points tell as much as seven.
    lon, lat, owner = cell_samples(cells, every_vertex=res <= 9)
    checks = checker_for(snapshot).check_many(
        [Premises(industry=code, lon=x, lat=y, as_of=as_of) for x, y in zip(lon.tolist(), lat.tolist())]
    )
    free = np.array([c.get("verdict") in ("permitted", "review") for c in checks], dtype=float)
    share = pd.Series(free).groupby(owner).mean().reindex(cells).to_numpy()
    centre_lon, centre_lat = cell_centres(cells)
    table = pd.DataFrame({"lon": centre_lon, "lat": centre_lat, "rent": np.nan, "area_m2": np.nan})
    _, score, _ = _score_table(snapshot, table, code, Constraints(), w)
    return gpd.GeoDataFrame(
        {"cell": cell_names(cells), "permitted_share": np.round(share, 3),
         "score": np.round(score, 1)},
        geometry=cell_polygons(cells), crs="EPSG:4326",
    )  # fmt: skip
