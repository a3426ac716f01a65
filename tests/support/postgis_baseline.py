"""A plain PostGIS implementation of the premises check, to test and benchmark the library against.

One prepared SQL statement per candidate finds, on ``geography``, its building, the rules in force
for its industry in its district with every zone closer than the rule's distance (or containing it), and the
prohibited entries that apply; a few lines of Python turn those rows into a verdict. It reads the
same tables the store writes (GiST-indexed, analysed) and knows nothing of H3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from siteselect.industry import section_of

# Metres to degrees for the index prefilter, generous at Laoshan's latitude (1° lon ≈ 90 km).
DEG_PER_M = 1 / 85_000.0

CHECK_SQL = """
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
district AS (
    SELECT d.props->>'code' AS code FROM features d, p
    WHERE d.version_id = %(districts_v)s AND d.props->>'level' = 'district' AND ST_Intersects(d.geom, p.g)
    LIMIT 1
),
rules AS (
    SELECT r.fid, r.props FROM features r
    WHERE r.version_id = %(rules_v)s
      AND coalesce(r.props->>'effective_from', '') <= %(day)s
      AND coalesce(r.props->>'effective_to', '9999') >= %(day)s
      AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(r.props->'industries') x(pre)
                  WHERE x.pre IN ('*', %(section)s) OR %(code)s LIKE x.pre || '%%')
      AND CASE WHEN jsonb_typeof(r.props->'districts') = 'array'
                    AND jsonb_array_length(r.props->'districts') > 0
               THEN r.props->'districts' ? (SELECT code FROM district) ELSE true END
),
building AS (
    SELECT b.fid, b.props FROM features b, p
    WHERE b.version_id = %(buildings_v)s AND ST_Intersects(b.geom, p.g)
    ORDER BY ST_Area(b.geom) LIMIT 1
),
zone_hits AS (
    SELECT r.fid AS rule_id, z.fid AS zone_id,
           ST_Distance(z.geom::geography, p.g::geography) AS d
    FROM rules r, p, features z
    WHERE r.props->>'kind' IN ('min_distance', 'not_within')
      AND z.version_id = %(zones_v)s
      AND z.geom && ST_Expand(p.g, coalesce((r.props->'params'->>'meters')::float8, 0) * %(deg)s + 1e-6)
      AND z.props->>'kind' IN (SELECT jsonb_array_elements_text(r.props->'params'->'zone_kinds'))
      AND CASE WHEN r.props->>'kind' = 'min_distance'
               THEN ST_Distance(z.geom::geography, p.g::geography) < (r.props->'params'->>'meters')::float8
               ELSE ST_Covers(z.geom::geography, p.g::geography) END
),
entries AS (
    SELECT e.fid, e.props, e.geom FROM features e
    WHERE e.version_id = %(prohibited_v)s
      AND coalesce(e.props->>'effective_from', '') <= %(day)s
      AND coalesce(e.props->>'effective_to', '9999') >= %(day)s
      AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(e.props->'industries') x(pre)
                  WHERE x.pre IN ('*', %(section)s) OR %(code)s LIKE x.pre || '%%')
),
entry_hits AS (
    SELECT e.fid, ST_Distance(e.geom::geography, p.g::geography) AS d FROM entries e, p
    WHERE e.geom && ST_Expand(p.g, 1000 * %(deg)s)
      AND CASE WHEN GeometryType(e.geom) = 'POINT'
               THEN ST_Distance(e.geom::geography, p.g::geography)
                    <= coalesce((e.props->>'radius_m')::float8, 10)
               ELSE ST_Covers(e.geom::geography, p.g::geography) END
    UNION
    SELECT e.fid, NULL FROM entries e JOIN features h
        ON h.version_id = %(numbers_v)s AND h.fid = e.props->>'house_number_id'
    WHERE h.props->>'building_id' = (SELECT fid FROM building)
)
SELECT 'rule', r.fid::text, r.props::text, NULL::float8 FROM rules r
UNION ALL SELECT 'building', b.fid::text, b.props::text, NULL::float8 FROM building b
UNION ALL SELECT 'zone', h.rule_id::text, h.zone_id::text, h.d FROM zone_hits h
UNION ALL SELECT 'entry', h.fid::text, NULL::text, h.d FROM entry_hits h
"""


@dataclass
class BaselineResult:
    verdict: str
    zone_hits: dict[str, list[tuple[str, float]]]  # rule id → (zone id, geography distance)
    entries: set[str]
    building: str | None


class PostgisBaseline:
    """Runs the baseline check over one psycopg connection (the local socket where possible)."""

    def __init__(self, conninfo: str, versions: dict[str, int]):
        self.conn = psycopg.connect(conninfo, autocommit=True, row_factory=tuple_row)
        self.ids = self._version_ids(versions)

    def _version_ids(self, versions: dict[str, int]) -> dict[str, int]:
        rows = self.conn.execute("SELECT layer, version, id FROM layer_versions").fetchall()
        return {layer: vid for layer, version, vid in rows if versions.get(layer) == version}

    def close(self) -> None:
        self.conn.close()

    def _params(self, lon: float, lat: float, code: str, day: str) -> dict[str, Any]:
        return {
            "lon": lon, "lat": lat, "code": code, "section": section_of(int(code[:2])), "day": day,
            "deg": DEG_PER_M, "rules_v": self.ids["rules"], "buildings_v": self.ids["buildings"],
            "zones_v": self.ids["zones"], "prohibited_v": self.ids["prohibited_addresses"],
            "numbers_v": self.ids["house_numbers"], "districts_v": self.ids["districts"],
        }  # fmt: skip

    def check(self, lon: float, lat: float, code: str, day: str, floor: int | None = None) -> BaselineResult:
        rows = self.conn.execute(CHECK_SQL, self._params(lon, lat, code, day), prepare=True).fetchall()
        return _verdict(rows, floor)

    def check_pipelined(
        self, cases: list[tuple[float, float, str]], day: str, floor: int | None = None
    ) -> list[BaselineResult]:
        """Many candidates, the statement sent for all before the answers are read."""
        with self.conn.pipeline():
            cursors = [
                self.conn.execute(CHECK_SQL, self._params(x, y, c, day), prepare=True) for x, y, c in cases
            ]
        return [_verdict(cur.fetchall(), floor) for cur in cursors]


def _verdict(rows: list[tuple[Any, ...]], floor: int | None) -> BaselineResult:
    """Turn the statement's rows into a verdict, as the library does."""
    import json

    rules: dict[str, dict[str, Any]] = {}
    building: dict[str, Any] | None = None
    building_id: str | None = None
    zone_hits: dict[str, list[tuple[str, float]]] = {}
    entries: set[str] = set()
    for kind, a, b, d in rows:
        if kind == "rule":
            rules[a] = json.loads(b)
        elif kind == "building":
            building_id, building = a, json.loads(b)
        elif kind == "zone":
            zone_hits.setdefault(a, []).append((b, float(d)))
        else:
            entries.add(a)
    severities = ["prohibited"] if entries else []
    if building is None:
        severities.append("review")
    for rid, rule in rules.items():
        outcome = _outcome(rule, rid in zone_hits, building, floor)
        if outcome == "violated":  # a local-default figure asks for review at most
            severities.append("review" if rule.get("certainty") == "local_default" else rule["severity"])
        elif outcome == "unresolved":
            severities.append("review")
    verdict = "prohibited" if "prohibited" in severities else "review" if severities else "permitted"
    return BaselineResult(verdict, zone_hits, entries, building_id)


def _outcome(rule: dict[str, Any], zone_hit: bool, building: dict[str, Any] | None, floor: int | None) -> str:
    kind, params = rule["kind"], rule.get("params") or {}
    if kind in ("min_distance", "not_within"):
        return "violated" if zone_hit else "passed"
    if kind in ("floor_at_least", "floor_at_most"):
        if floor is None:
            return "unresolved"
        ok = floor >= params["floor"] if kind == "floor_at_least" else floor <= params["floor"]
        return "passed" if ok else "violated"
    if building is None:
        return "unresolved"
    use = building.get("use") or "unknown"
    if kind in ("building_use_not_in", "building_use_in"):
        if use == "unknown":
            return "unresolved"
        bad = (use in params["uses"]) == (kind == "building_use_not_in")
        return "violated" if bad else "passed"
    if kind == "requires_flue":
        if use != "mixed":
            return "passed"
        return (
            "unresolved" if building.get("flue") is None else ("passed" if building["flue"] else "violated")
        )
    return "passed" if building.get("accepted_on") else "violated"  # requires_accepted_building
