"""The prohibited-address list: entries a department lists as no domicile for some industries.

Premises are on the list when they are in a listed building, at a listed house number, within a
listed point's radius (10 m unless the entry says) or inside a listed area — for the entries in
force on the day that name the industry.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from siteselect import industry as industries
from siteselect import law
from siteselect.index import LayerIndex, cell_pairs
from siteselect.kept import Kept
from siteselect.locating import Places

DEFAULT_PROHIBITED_RADIUS_M = 10.0


def in_force(record: dict[str, Any], day: str) -> bool:
    """Whether a rule or a list entry is in force on ``day`` (ISO), its last day included."""
    start, end = record.get("effective_from"), record.get("effective_to")
    return (not start or start <= day) and (not end or day <= end)


class ProhibitedList:
    """The list of one snapshot, with what each industry and day make of it kept."""

    def __init__(self, layer: LayerIndex, numbers: LayerIndex, building_row: dict[str, int]):
        self.layer, self.numbers, self.building_row = layer, numbers, building_row
        self.records = layer.features.drop(columns="geometry").to_dict("records")
        self.entries = self._entries()
        # Every entry's cells, in force or not: one map made with the list, rather than one for
        # each set of entries some industry and day apply (27 ms each at a city's size, paid by
        # the first check or match of every industry).
        self.cell_map = layer.cell_map(self.entries["radius"])
        self._applying: Kept[NDArray[np.bool_]] = Kept()  # by industry and day, which requests name

    def _entries(self) -> dict[str, Any]:
        """Each entry's radius, and the entries by building row and by house number."""
        entries = self.layer.features
        is_point = (entries.geom_type == "Point").to_numpy()
        radius = entries["radius_m"].astype(float).fillna(DEFAULT_PROHIBITED_RADIUS_M).to_numpy()
        radius = np.where(is_point, radius, 0.0)
        building_of = dict(zip(self.numbers.features["id"], self.numbers.features["building_id"]))
        by_building: dict[int, list[int]] = defaultdict(list)  # by row in the buildings layer
        by_number: dict[str, list[int]] = defaultdict(list)
        for row, hn in enumerate(entries["house_number_id"]):
            if hn:
                by_number[hn].append(row)
            if hn and building_of.get(hn) in self.building_row:
                by_building[self.building_row[building_of[hn]]].append(row)
        return {
            "radius": radius,
            "is_point": is_point,
            "by_building": by_building,
            "by_number": by_number,
        }

    def _in_force(self, code: str, day: str) -> NDArray[np.bool_]:
        """Which entries apply to the industry on the day."""
        return np.array(
            [
                in_force(e, day) and any(industries.matches(code, x) for x in e["industries"])
                for e in self.records
            ],
            dtype=bool,
        )

    def findings(
        self, code: str, as_of: dt.date, places: Places, idx: NDArray[np.intp]
    ) -> list[tuple[int, dict[str, Any]]]:
        """(premises, reason) for every entry in force for the industry that premises ``idx`` of
        ``places`` are at: in its building, at its house number, or within its radius."""
        p, out = self.entries, []
        day = as_of.isoformat()
        applies = self._applying.made((code, day), self._in_force, code, day)
        cells = places.cells(self.layer.version.h3_resolution)[idx].tolist()
        by = [q for q, cell in enumerate(cells) if cell in self.cell_map]  # most are near no entry
        near: dict[int, list[tuple[int, float]]] = defaultdict(list)
        if by:
            at, rows = cell_pairs(self.cell_map, [cells[q] for q in by])
            keep = applies[rows]
            at, rows = at[keep], rows[keep]
            pos = np.array(by, dtype=np.intp)[at]
            distance = shapely.distance(self.layer.planar(rows), places.points[idx[pos]])
            within = distance <= p["radius"][rows]
            for q, row, d in zip(pos[within].tolist(), rows[within].tolist(), distance[within].tolist()):
                near[q].append((row, d))
        # Only premises in a listed building, at a listed house number or near an entry can be hit.
        listed = p["by_building"]
        todo = set(near) | {q for q, row in enumerate(places.building[idx].tolist()) if row in listed}
        if places.house_number:
            todo |= {q for q, i in enumerate(idx.tolist()) if i in places.house_number}
        for q in sorted(todo):
            i = int(idx[q])
            hits: dict[int, tuple[str, float | None]] = {}
            for row in p["by_building"].get(int(places.building[i]), []):
                if applies[row]:
                    hits[row] = ("same_building", None)
            for row in p["by_number"].get(places.house_number.get(i, ""), []):
                if applies[row]:
                    hits[row] = ("house_number", None)
            for row, d in near.get(q, []):
                if row not in hits:
                    hits[row] = ("within_radius" if p["is_point"][row] else "inside", d)
            for row, (how, d) in sorted(hits.items()):
                out.append((i, _reason(self.records[row], how, d, p["radius"][row])))
        return out


def _reason(entry: Any, how: str, distance: float | None, radius: float) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "features": [{"layer": "prohibited_addresses", "id": entry["id"], "name": entry["address"]}],
        "match": how,
    }
    if distance is not None and how == "within_radius":
        evidence |= {"distance_m": round(distance, 3), "threshold_m": float(radius)}  # not numpy's
    industries_text = "、".join(entry["industries"])
    return {
        "source": "prohibited_address",
        "id": entry["id"],
        "title": f"禁设地址：{entry['address']}",
        "severity": "prohibited",
        "outcome": "violated",
        **law.prohibited_list_fields(),  # basis and the article quoted
        "department": entry["department"],
        "message_zh": f"该处列入禁设地址名录（{entry['reason']}），适用行业：{industries_text}",
        "message_en": f"the premises is on the prohibited-address list ({entry['reason']})",
        "evidence": evidence,
        "effective_from": entry["effective_from"],
        "effective_to": entry["effective_to"],
    }
