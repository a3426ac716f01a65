"""What a department's load changes, before it is made: entries and verdicts.

Shared layers (prohibited addresses, zones) hold several departments' entries; a load replaces the
loading department's own and keeps everyone else's. A plan lists the entries added, removed and
changed, by id and department, and the verdicts that change for the premises near them, judged
by the library's one checker on the current layers and on the layers as the load would leave them.
An earlier version can be made current again, as a new version that says who did it and why.

Who loads what: an admin any layer, for any department; a data steward only its own department's
entries of a shared layer, and the whole of the layers its department keeps (``stewards`` in
``layers/specs.yaml``). Every refusal is in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
import sqlalchemy as sa

from siteselect import audit, industry, labels, law
from siteselect.check import checker_for
from siteselect.errors import InvalidInputError, PermissionDeniedError, Problem
from siteselect.grid import geometries_cells
from siteselect.index import Catalog, LayerIndex, Snapshot
from siteselect.premises import Premises
from siteselect.specs import LayerSpec, get_spec
from siteselect.store import LayerVersion, Staging, Store
from siteselect.users import User
from siteselect.verdicts import SEVERITY_RANK

MAX_PREMISES = 2000  # premises judged before and after, nearest the changed entries first
MAX_SHAPES = 2000  # changed entries drawn on the steward's map
AFTER_ROWS = 10_000  # a staged load's changed entries judged with at a time (the checker holds ~10 kB each)
NEAR_M = 60.0  # beyond an entry's own radius, how far premises count as near it


@dataclass(frozen=True)
class EntryChange:
    """One entry a load adds, removes or changes."""

    id: str
    department: str | None
    change: str  # added, removed, changed
    fields: tuple[str, ...] = ()  # what changed (geometry among them)


@dataclass(frozen=True)
class VerdictChange:
    """A premises whose verdict for an industry the load would change."""

    address: str
    house_number_id: str
    industry: str
    before: str
    after: str

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "before_zh": labels.zh("verdicts", self.before),
            "after_zh": labels.zh("verdicts", self.after),
        }


# A new version's features: in memory, or (a big file's) staged on disk.
Features: TypeAlias = gpd.GeoDataFrame | Staging


@dataclass
class Plan:
    """A load worked out but not made: the new version's features and what they change."""

    layer: str
    source: str
    features: Features
    based_on: int | None
    departments: tuple[str, ...]
    entries: list[EntryChange] = field(default_factory=list)
    verdicts: list[VerdictChange] = field(default_factory=list)
    premises_checked: int = 0
    mapping: dict[str, str] = field(default_factory=dict)
    shapes: list[dict[str, Any]] = field(default_factory=list)  # GeoJSON of the entries that change
    unmatched: list[Problem] = field(default_factory=list)  # records that name no feature

    def close(self) -> None:
        """Let go of features staged on disk (a plan in memory holds nothing to let go of)."""
        if isinstance(self.features, Staging):
            self.features.close()

    def summary(self) -> dict[str, int]:
        counts = {"added": 0, "removed": 0, "changed": 0}
        for e in self.entries:
            counts[e.change] += 1
        return counts | {"verdicts_changed": len(self.verdicts)}

    def as_dict(self) -> dict[str, Any]:
        """The plan as plain values: what a steward reviews before confirming."""
        return {
            "layer": self.layer,
            "source": self.source,
            "based_on": self.based_on,
            "departments": list(self.departments),
            "feature_count": len(self.features),
            "summary": self.summary(),
            "mapping": self.mapping,
            "entries": [e.__dict__ | {"fields": list(e.fields)} for e in self.entries],
            "verdicts": [v.as_dict() for v in self.verdicts],
            "premises_checked": self.premises_checked,
            "changed": {"type": "FeatureCollection", "features": self.shapes},
            "unmatched": [p.__dict__ | {"value": str(p.value)} for p in self.unmatched],
        }


def loading_department(
    store: Store, user: User, layer: str, action: str, asked: str | None = None
) -> str | None:
    """The department whose entries ``user`` may load into (or restore in) ``layer``: an admin's
    choice (``asked``, or None for the departments the file names), a steward's own department's
    name. Anything else is refused with ``PermissionDeniedError`` and the refusal audited."""
    try:
        return _department_of(user, get_spec(layer), asked)
    except PermissionDeniedError as exc:
        audit.refuse(store, user, action, layer, exc)


def _department_of(user: User, spec: LayerSpec, asked: str | None) -> str | None:
    if user.role == "admin":
        return asked
    if user.role != "steward":
        raise PermissionDeniedError(f"loading layers is for data stewards, not a {user.role}")
    names = law.departments()
    if user.department not in names:
        raise PermissionDeniedError(f"{user.name} belongs to no department: an admin sets it first")
    own = names[user.department]
    if spec.shared:
        if asked not in (None, "", own, user.department):
            raise PermissionDeniedError(f"{user.name} loads the entries of {own}, not those of {asked}")
        return own
    keepers = [names.get(code, code) for code in spec.extra.get("stewards", [])]
    if user.department not in spec.extra.get("stewards", []):
        by = f"the data stewards of {', '.join(keepers)}" if keepers else "admins"
        raise PermissionDeniedError(f"layer {spec.name} is loaded by {by}, not by {own}")
    return None


def audited(
    store: Store, user: User, action: str, detail: dict[str, Any]
) -> Callable[[sa.Connection, LayerVersion], None]:
    """What a steward's write records in the audit trail, in the write's own transaction."""

    def record(conn: sa.Connection, version: LayerVersion) -> None:
        after = {"version": version.version, "features": version.feature_count} | detail
        audit.record(conn, store, user, action, version.layer, None, after, "ok")

    return record


def check_replace_all(role: str | None) -> None:
    """Replacing every department's entries is an admin's decision."""
    if role != "admin":
        raise PermissionDeniedError("replacing every department's entries needs an admin")


def merge_departments(
    spec: LayerSpec, current: gpd.GeoDataFrame | None, new: gpd.GeoDataFrame, source: str
) -> tuple[gpd.GeoDataFrame, tuple[str, ...], list[Problem]]:
    """The layer after a load that replaces only the departments found in ``new``."""
    owners = {owner(d) for d in new["department"]}
    departments = tuple(sorted(owners))
    if current is None or not len(current):
        return new, departments, []
    kept = current[[owner(d) not in owners for d in current["department"]]]
    theirs = {fid: owner(d) or "no department" for fid, d in zip(kept["id"], kept["department"])}
    problems = [
        Problem(source, row, "id", fid, f"is already the id of an entry of {theirs[fid]}")
        for row, fid in enumerate(new["id"])
        if fid in theirs
    ]
    merged = pd.concat([kept, new], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326"), departments, problems


def owner(department: Any) -> str:
    """Entries without a department belong together: a load without one replaces them."""
    return "" if department is None else str(department)


def entry_changes(current: gpd.GeoDataFrame | None, new: Features) -> list[EntryChange]:
    """Entries added, removed and changed between two versions of a layer, by id."""
    if isinstance(new, Staging):
        return _staged_changes(current, new)
    was, will = _departments(current), _departments(new)
    both = set(was) & set(will)
    old, now = _rows(current, both), _rows(new, both)
    out = []
    for fid in sorted(set(was) | set(will)):
        if fid not in was:
            out.append(EntryChange(fid, will[fid], "added"))
        elif fid not in will:
            out.append(EntryChange(fid, was[fid], "removed"))
        elif old[fid][1:] != now[fid][1:]:  # compared as stored: attribute JSON and WKB
            fields = _fields(old[fid][0], now[fid][0], old[fid][2] != now[fid][2])
            out.append(EntryChange(fid, now[fid][0].get("department"), "changed", fields))
    return out


def _staged_changes(current: gpd.GeoDataFrame | None, staged: Staging) -> list[EntryChange]:
    """:func:`entry_changes` of features staged on disk, read a batch at a time: the layer as it
    is now is held, the file is not."""
    was = _departments(current)
    old = _rows(current, set(was))
    out, seen = [], set()
    names: dict[Any, Any] = {}  # one department text for all its entries, not one per row
    for ids, wkb, props in staged.batches():
        for n, fid in enumerate(ids.tolist()):
            attrs = orjson.loads(props[n])
            department = names.setdefault(attrs.get("department"), attrs.get("department"))
            before = old.get(fid)
            if before is None:
                out.append(EntryChange(fid, department, "added"))
                continue
            seen.add(fid)
            shape = None if wkb is None else bytes(wkb[n])
            if before[1] != _json(attrs) or before[2] != shape:
                fields = _fields(before[0], attrs, before[2] != shape)
                out.append(EntryChange(fid, department, "changed", fields))
    out += [EntryChange(fid, department, "removed") for fid, department in was.items() if fid not in seen]
    return sorted(out, key=lambda e: e.id)


def _fields(a: dict[str, Any], b: dict[str, Any], moved: bool) -> tuple[str, ...]:
    """The attributes that differ between two versions of an entry, and its geometry if moved."""
    changed = [k for k in sorted(set(a) | set(b)) if _json(a.get(k)) != _json(b.get(k))]
    return (*changed, "geometry") if moved else tuple(changed)


def _departments(gdf: gpd.GeoDataFrame | None) -> dict[str, str | None]:
    if gdf is None:
        return {}
    departments = gdf["department"].tolist() if "department" in gdf else [None] * len(gdf)
    return dict(zip(gdf["id"].astype(str).tolist(), departments))


def _rows(
    gdf: gpd.GeoDataFrame | None, ids: set[str]
) -> dict[str, tuple[dict[str, Any], bytes, bytes | None]]:
    """The features of ``ids`` by id: their attributes, the attributes' JSON, their WKB."""
    if gdf is None or not ids:
        return {}
    gdf = gdf[gdf["id"].astype(str).isin(ids)]
    columns = [c for c in gdf.columns if c not in ("id", "geometry")]
    wkb = shapely.to_wkb(gdf.geometry.to_numpy()) if "geometry" in gdf else [None] * len(gdf)
    out = {}
    for fid, values, shape in zip(
        gdf["id"].astype(str), gdf[columns].itertuples(index=False, name=None), wkb
    ):
        attrs = dict(zip(columns, values))
        out[fid] = (attrs, _json(attrs), shape)
    return out


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def staged_frame(
    staged: Staging, ids: set[str], box: tuple[float, float, float, float] | None = None
) -> gpd.GeoDataFrame:
    """The staged features of ``ids`` (those meeting ``box``, lon/lat bounds, if given)."""
    return gpd.GeoDataFrame(pd.concat(list(_staged_parts(staged, ids, box)), ignore_index=True))


def _staged_parts(
    staged: Staging, ids: set[str], box: tuple[float, float, float, float] | None = None
) -> Iterator[gpd.GeoDataFrame]:
    """:func:`staged_frame` a batch at a time (the first batch even when it has none of them)."""
    for n, (fids, wkb, props) in enumerate(staged.batches()):
        keep = np.fromiter((fid in ids for fid in fids.tolist()), dtype=bool, count=len(fids))
        geoms = shapely.from_wkb(wkb[keep]) if wkb is not None else None
        if box is not None and geoms is not None:
            near = shapely.intersects(geoms, shapely.box(*box))
            keep[np.flatnonzero(keep)[~near]] = False
            geoms = geoms[near]
        if keep.any() or n == 0:
            yield _decoded(staged, fids[keep], geoms, [p for p, k in zip(props, keep) if k])


def _decoded(
    staged: Staging, fids: np.ndarray, geoms: np.ndarray | None, props: list[str]
) -> gpd.GeoDataFrame:
    """Staged rows as features, as the store reads them."""
    rows = [orjson.loads(p) for p in props]
    frame = pd.DataFrame(rows, columns=list(staged.spec.fields), dtype=object).replace({np.nan: None})
    frame.insert(0, "id", fids)
    if geoms is None:
        return gpd.GeoDataFrame(frame)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")


def changed_shapes(
    current: gpd.GeoDataFrame | None, new: Features, entries: list[EntryChange]
) -> list[dict[str, Any]]:
    """The entries a load changes as GeoJSON features (a removed one where it was), for a map: at
    most ``MAX_SHAPES`` of them."""
    if isinstance(new, Staging):  # the first few added and changed are all that are drawn
        added = [e.id for e in entries if e.change == "added"][:MAX_SHAPES]
        new = staged_frame(new, {*added, *[e.id for e in entries if e.change == "changed"][:MAX_SHAPES]})
    if "geometry" not in new or not entries:
        return []
    out: list[dict[str, Any]] = []
    for change in ("removed", "added", "changed"):
        ids = {e.id: e for e in entries if e.change == change and len(out) + 1 < MAX_SHAPES}
        frame = current if change == "removed" else new
        if not ids or frame is None:
            continue
        rows = frame[frame["id"].astype(str).isin(ids)].head(MAX_SHAPES - len(out))
        label = rows["address"] if "address" in rows else rows["name"] if "name" in rows else rows["id"]
        for fid, geom, text in zip(rows["id"].astype(str), rows.geometry, label):
            out.append(
                {
                    "type": "Feature",
                    "id": fid,
                    "geometry": shapely.geometry.mapping(geom) if geom is not None else None,
                    "properties": {"change": change, "department": ids[fid].department, "label": str(text)},
                }
            )
    return out


def verdict_changes(
    catalog: Catalog, layer: str, new: Features, entries: list[EntryChange], version: LayerVersion
) -> tuple[list[VerdictChange], int]:
    """Premises near the changed entries, judged on the current layers and on the layers with
    ``new`` in place of ``layer``: those whose verdict differs. Returns them and how many premises
    were judged. Staged features are read twice, a batch at a time: for where the changes lie,
    then for the changed entries near the premises judged."""
    before = catalog.current()
    if not entries or not before.has("house_numbers") or not before.has("districts"):
        return [], 0
    old = before.layer(layer).features if before.has(layer) else None
    touched = {e.id for e in entries}
    parts = [new] if isinstance(new, gpd.GeoDataFrame) else _staged_parts(new, touched)
    shapes = {shapely.to_wkb(g): g for g in _touched(old, touched) if g is not None}
    codes = _industries_of(old, touched) | _zone_rule_industries(before, layer)
    reach = _reach(before, layer, old)
    for part in parts:  # one place shared by many entries is one shape
        shapes |= {shapely.to_wkb(g): g for g in _touched(part, touched) if g is not None}
        codes |= _industries_of(part, touched)
        reach = max(reach, _reach(before, layer, part))
    if not shapes or not codes:
        return [], 0
    premises = _premises_near(before, list(shapes.values()), reach)
    items = [
        Premises(industry=code, address=str(hn.address), ref=f"{hn.id}|{code}")
        for hn in premises.itertuples()
        for code in sorted(codes)
    ]
    was = checker_for(before).verdicts(items)
    # A verdict ranks its weightiest reason, and an entry's reasons are its own: judged on the
    # unchanged entries with each part of the changed ones, the weightiest verdict is the whole's.
    afters = [new] if isinstance(new, gpd.GeoDataFrame) else _afters(old, new, touched, premises, reach)
    will: list[Any] = []
    for after_layer in afters:
        after = Snapshot({**before.layers, layer: _index_of(version, after_layer, catalog)}, before.frame)
        got = checker_for(after).verdicts(items)
        will = [max(a, b, key=_rank) for a, b in zip(will, got)] if will else got
    address = dict(zip(premises["id"], premises["address"]))
    out = []
    for a, b in zip(was, will):
        if a.verdict != b.verdict and not a.error and not b.error:
            hid, code = str(a.ref).split("|")
            out.append(VerdictChange(str(address[hid]), hid, code, a.verdict, b.verdict))
    return out, len(premises)


def _afters(
    old: gpd.GeoDataFrame | None, staged: Staging, touched: set[str], premises: gpd.GeoDataFrame, reach: float
) -> Iterator[gpd.GeoDataFrame]:
    """The layer as a staged load leaves it, as far as ``premises`` can tell, in parts of at most
    ``AFTER_ROWS`` changed entries: the entries it does not change, with the changed ones within
    ``reach`` metres of the premises."""
    lon0, lat0, lon1, lat1 = premises.total_bounds
    dy = reach / 111_000 + 1e-6  # degrees of latitude a little over ``reach`` metres; of longitude:
    dx = dy / max(np.cos(np.radians(max(abs(lat0), abs(lat1)))), 0.01)
    kept = old[~old["id"].astype(str).isin(touched)] if old is not None else None
    held: list[gpd.GeoDataFrame] = []
    parts = _staged_parts(staged, touched, (lon0 - dx, lat0 - dy, lon1 + dx, lat1 + dy))
    pieces = (
        part.iloc[at : at + AFTER_ROWS] for part in parts for at in range(0, max(len(part), 1), AFTER_ROWS)
    )
    for part in itertools.chain(pieces, [None]):
        if part is not None:
            held.append(part)
        if held and (part is None or sum(map(len, held)) >= AFTER_ROWS):
            frame = pd.concat([kept, *held] if kept is not None else held, ignore_index=True)
            yield gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")
            held = []


def _rank(result: Any) -> int:
    return SEVERITY_RANK[result.verdict]


def _touched(gdf: gpd.GeoDataFrame | None, ids: set[str]) -> list[Any]:
    if gdf is None or "geometry" not in gdf:
        return []
    return list(gdf.loc[gdf["id"].isin(ids), "geometry"])


def _industries_of(gdf: gpd.GeoDataFrame | None, ids: set[str]) -> set[str]:
    """A class of each industry prefix an entry names: the first class it covers."""
    if gdf is None or "industries" not in gdf:
        return set()
    prefixes = {p for value in gdf.loc[gdf["id"].isin(ids), "industries"] for p in (value or [])}
    return {c for p in prefixes if (c := _class_of(p)) is not None}


def _class_of(prefix: str) -> str | None:
    if prefix == "*":
        return "6210"  # every industry: catering stands for them, the commonest registration
    return next((c.code for c in industry.classes() if industry.matches(c.code, prefix)), None)


def _zone_rule_industries(snapshot: Snapshot, layer: str) -> set[str]:
    """For zones: a class of each industry the distance rules name."""
    if layer != "zones" or not snapshot.has("rules"):
        return set()
    rules = snapshot.layer("rules").features
    near = rules[rules["kind"].isin(["min_distance", "not_within"])]
    return {c for value in near["industries"] for p in (value or []) if (c := _class_of(p)) is not None}


def _reach(snapshot: Snapshot, layer: str, *frames: gpd.GeoDataFrame | None) -> float:
    """How far from an entry its effect can reach, in metres."""
    if layer == "zones" and snapshot.has("rules"):
        rules = snapshot.layer("rules").features
        meters = [float((p or {}).get("meters", 0)) for p in rules["params"]]
        return max([0.0, *meters]) + NEAR_M
    radii = [
        float(r) for f in frames if f is not None and "radius_m" in f for r in f["radius_m"] if r is not None
    ]
    return max([10.0, *radii]) + NEAR_M


def _premises_near(snapshot: Snapshot, shapes: list[Any], reach_m: float) -> gpd.GeoDataFrame:
    numbers = snapshot.layer("house_numbers")
    frame = snapshot.frame
    local = frame.to_local(np.asarray(shapes, dtype=object))
    area = shapely.union_all(shapely.buffer(local, reach_m))
    inside = numbers.touching(area) if len(numbers.features) else np.zeros(0, dtype=np.intp)
    found = numbers.features.iloc[inside]
    if len(found) > MAX_PREMISES:
        order = np.argsort(shapely.distance(numbers.planar(inside), shapely.union_all(local)))
        found = found.iloc[order[:MAX_PREMISES]]
    return found


def _index_of(version: LayerVersion, gdf: gpd.GeoDataFrame, catalog: Catalog) -> LayerIndex:
    positions, cells = geometries_cells(gdf.geometry.to_numpy(), version.h3_resolution)
    fids = gdf["id"].astype(str).to_numpy()[positions]
    return LayerIndex.build(version, gdf.reset_index(drop=True), fids, cells, catalog.frame)


def planned_version(store: Store, layer: str, source: str, who: str, count: int) -> LayerVersion:
    """The version a plan would become (not stored)."""
    latest = max((v.version for v in store.versions(layer)), default=0)
    return LayerVersion(
        -1, layer, latest + 1, dt.datetime.now(dt.UTC), who, source, count, "", store.h3_resolution
    )


def restore_version(
    store: Store,
    layer: str,
    version: int,
    *,
    who: str | None,
    why: str,
    department: str | None = None,
    also: Callable[[sa.Connection, LayerVersion], None] | None = None,
) -> LayerVersion:
    """Make an earlier version current again, as a new version naming who did it and why; with a
    ``department``, only that department's entries (everyone else's stay as they are now)."""
    why = why.strip()
    if not why:
        raise InvalidInputError("why: say why the earlier version is made current again")
    old = store.read_layer(layer, version=version)
    latest = store.resolve_version(layer)
    if department is not None:
        old = _with_entries_of(department, old, store.read_layer(layer, version=latest.version))
    whose = f" ({department}'s entries)" if department is not None else ""
    return store.write_layer(
        layer,
        old,
        source=f"version {version}{whose} made current again: {why}",
        loaded_by=who,
        based_on=latest.version,
        also=also,
    )


def _with_entries_of(department: str, old: gpd.GeoDataFrame, now: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The layer as it is now, with one department's entries as they were in ``old``."""
    mine = old[old["department"] == department]
    others = now[now["department"] != department]
    clash = sorted(set(mine["id"]) & set(others["id"]))
    if clash:
        raise InvalidInputError(
            f"entries {', '.join(clash[:5])} of {department} then are another department's now"
        )
    merged = pd.concat([others, mine], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:4326")
