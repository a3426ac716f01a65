"""The premises check: may this business be registered at this place, why, and on what legal basis.

A check locates the premises (coordinates, or an address resolved against the gazetteer), finds its
building, collects the rules and prohibited addresses in force on the as-of date for the industry,
and evaluates each on exact geometry in the district's planar frame. H3 cell maps find the
candidates; distances and containment decide. Every finding names its rule or entry, the legal
basis, the department, a message in Chinese and English, and the evidence.

Checks run in batches (a single check is a batch of one), so that a city's worth of candidates
shares the rule look-ups and cell maps.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import gc
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from siteselect import industry as industries
from siteselect import law
from siteselect.errors import InvalidInputError
from siteselect.index import NO_ROWS, CellMap, LayerIndex, Snapshot, cell_pairs
from siteselect.kept import PLACES_KEPT, Kept
from siteselect.labels import zh
from siteselect.locating import Locator, Places, locator_for
from siteselect.premises import Premises, Verdict, today
from siteselect.prohibited import ProhibitedList, in_force
from siteselect.rule_kinds import KINDS, judge_on_building, zone_hits
from siteselect.verdicts import VERDICTS, rank

ZONE_KINDS = tuple(name for name, kind in KINDS.items() if kind.on_zones)  # judged on the zones layer


class _RuleSet(NamedTuple):
    """The rules in force for one industry on one day."""

    zones: list[dict[str, Any]]  # judged on the zones layer
    attributes: list[dict[str, Any]]  # judged on the building and the floor
    ids: tuple[str, ...]


class _Shared(NamedTuple):
    """What the premises of one group (industry, as-of day) share when they are in the same building
    on the same floor: the findings of the attribute rules, and whether no building was found."""

    reasons: list[dict[str, Any]]  # attribute rules' reasons
    after: list[dict[str, Any]]  # [no_building()] or []
    checked_zones: list[dict[str, str]]  # every zone rule passed
    checked_attributes: list[dict[str, str]]
    ids: tuple[str, ...]  # of reasons + after
    verdict: str  # from reasons + after alone
    # Joined once here rather than once a result: premises with nothing of their own copy these.
    all_reasons: list[dict[str, Any]]  # reasons + after
    all_checked: list[dict[str, str]]  # checked_zones + checked_attributes


class _Batch(Places):
    """One call's premises as columns, with what has been found out about them.

    Findings most premises share (attribute rules, no building) are judged once per group, building
    and floor and referenced; only the few a premises has of its own (an approximate address, a zone
    too near, a prohibited entry) are kept per premises, in ``head`` and ``tail``.
    """

    def __init__(self, premises: list[Premises], day: dt.date):
        super().__init__(premises)
        n = len(premises)
        self.as_of = [p.as_of or day for p in premises]
        self.head: dict[int, list[dict[str, Any]]] = defaultdict(list)  # before the shared reasons
        self.tail: dict[int, list[dict[str, Any]]] = defaultdict(list)  # after them
        self.checked_zones: dict[int, list[dict[str, str]]] = {}  # where a zone rule was violated
        self.shared: list[_Shared] = [NOT_SHARED] * n

    def own(self, i: int) -> bool:
        """Whether premises ``i`` has findings of its own beside the shared ones."""
        return i in self.head or i in self.tail

    def judged(self, i: int) -> tuple[list[dict[str, Any]], str]:
        """The reasons of premises ``i`` (a list of its own) and its verdict."""
        shared = self.shared[i]
        if i in self.head or i in self.tail:  # as own(), inline: asked once a premises
            reasons = self.head.get(i, []) + shared.reasons + self.tail.get(i, []) + shared.after
            return reasons, VERDICTS[rank(reasons, self.match.get(i))]
        return shared.all_reasons.copy(), shared.verdict

    def checked(self, i: int) -> list[dict[str, str]]:
        shared = self.shared[i]
        if i not in self.checked_zones:
            return shared.all_checked.copy()
        return self.checked_zones[i] + shared.checked_attributes


class Checker:
    """Checks premises against one snapshot of the layers."""

    def __init__(self, snapshot: Snapshot):
        self.snap = snapshot
        self.zones = snapshot.layer("zones")
        self.buildings = snapshot.layer("buildings")
        self.prohibited = snapshot.layer("prohibited_addresses")
        self.numbers = snapshot.layer("house_numbers")
        self.rules = snapshot.layer("rules").features.to_dict("records")
        # Plain records: a check reads a few attributes of a few features, which pandas rows
        # would make a hundred times slower.
        # A district's zones are a few hundred: their records are kept made, read on every hit.
        self._zone_recs = self.zones.features.drop(columns="geometry").to_dict("records")
        self._building_recs = _Records(self.buildings)
        self.locator: Locator = locator_for(snapshot)
        self._building_row = self.locator.building_row
        self._cache: dict[Any, Any] = {}  # by rule, rule set: bounded by the rules
        self._shared_findings: Kept[_Shared] = Kept(PLACES_KEPT)  # by rule set, building and floor
        # Keyed by what a request names (industry, day, district): kept apart and bounded.
        self._by_day: Kept[Any] = Kept()
        self.listed = ProhibitedList(self.prohibited, self.numbers, self._building_row)
        self._certificates = _Certificates(self.numbers.features)
        self._prefiled = self._prefiled_vacancies()
        self._proofs: Kept[dict[str, Any]] = Kept(PROOFS_KEPT)  # made of the two above
        self._versions = snapshot.versions
        self._verdicts_zh = {v: zh("verdicts", v) for v in VERDICTS}
        # What results share, made on first use: read once a result, so a plain dict look-up.
        self._industries = Kept(PLACES_KEPT, make=industries.describe)
        # Of the records, not of self: a successor's copy would keep this checker alive.
        self._public_buildings = Kept(
            PLACES_KEPT, make=functools.partial(_public_building, self._building_recs)
        )

    # ---- public ---------------------------------------------------------------------------------

    def warm(self) -> None:
        """Build the cell maps of the buildings and of every zone rule, and read the legal texts
        and labels a result cites, now rather than on first use: a checker read back from a
        snapshot's file was not made here, and its first check spent 0.1 s reading them."""
        self.locator.warm()
        for rule in self.rules:
            law.finding_fields(rule)
            if rule["kind"] in ZONE_KINDS:
                self._zone_map(rule)
        law.prohibited_list_fields()
        self._verdicts_zh = {v: zh("verdicts", v) for v in VERDICTS}

    def check(self, premises: Premises) -> dict[str, Any]:
        """Check one premises; bad input raises ``InvalidInputError``."""
        result = self._results(self._judge([premises]))[0]  # too few objects to pause the collector for
        if "error" in result:
            raise InvalidInputError(result["error"])
        return result

    def check_many(self, items: list[Premises]) -> list[dict[str, Any]]:
        """Check many premises; one that cannot be checked gets an ``error`` instead of a verdict."""
        with cyclic_gc_paused():
            return self._results(self._judge(items))

    def verdicts(self, items: list[Premises]) -> list[Verdict]:
        """As :meth:`check_many`, but only each verdict and the ids of its reasons (or the error):
        what a city-scale batch writes, without the messages, evidence and address proof."""
        with cyclic_gc_paused():
            batch = self._judge(items)
            return [self._verdict(batch, i) for i in range(len(items))]

    def _judge(self, items: list[Premises]) -> _Batch:
        undated = any(p.as_of is None for p in items)  # judged as of today, else no need to ask the clock
        batch = _Batch(items, today() if undated else dt.date.min)
        self.locator.locate(batch)
        for i in batch.match:
            level = batch.approximate(i)
            if level is not None and i not in batch.error:
                batch.head[i].append(_unresolved_location(level))
        located = batch.located
        if len(located):
            # The rules in force depend on the industry, the day and the district's local rules.
            groups: dict[tuple[str, dt.date, str], list[int]] = defaultdict(list)
            for i in located.tolist():
                groups[(items[i].industry, batch.as_of[i], batch.district[i])].append(i)
            for (code, as_of, district), members in groups.items():
                idx = np.array(members, dtype=np.intp)
                rules = self._split_rules(code, as_of, district)
                self._zone_rules(rules.zones, batch, idx)
                self._share(rules, batch, idx)
                for i, reason in self.listed.findings(code, as_of, batch, idx):
                    batch.tail[i].append(reason)
        return batch

    # ---- buildings ------------------------------------------------------------------------------

    def _building(self, row: int) -> dict[str, Any] | None:
        return None if row < 0 else self._building_recs[row]

    def _cached(self, key: Any, make: Any, *args: Any) -> Any:
        """``make(*args)``, made once per key. Arguments rather than a closure: the hot paths ask
        once per premises, and a closure a call costs more than the look-up."""
        if key not in self._cache:
            self._cache[key] = make(*args)
        return self._cache[key]

    # ---- rules ----------------------------------------------------------------------------------

    def rules_for(self, code: str, as_of: dt.date, district: str | None = None) -> list[dict[str, Any]]:
        """The rules in force on ``as_of`` that name the industry, in ``district`` (a code: the rules
        for every district and its own local ones; None: every rule, local ones included)."""
        day = as_of.isoformat()
        return self._by_day.made(
            ("rules", code, day, district),
            lambda: [
                r
                for r in self.rules
                if in_force(r, day)
                and any(industries.matches(code, p) for p in r["industries"])
                and (district is None or applies_in(r, district))
            ],
        )

    def _split_rules(self, code: str, as_of: dt.date, district: str) -> _RuleSet:
        """The rules for the industry, split into those judged on zones and on the building."""

        def split() -> _RuleSet:
            rules = self.rules_for(code, as_of, district)
            zone = [r for r in rules if r["kind"] in ZONE_KINDS]
            return _RuleSet(
                zone, [r for r in rules if r["kind"] not in ZONE_KINDS], tuple(r["id"] for r in rules)
            )

        return self._by_day.made(("split", code, as_of, district), split)

    def _share(self, rules: _RuleSet, batch: _Batch, idx: NDArray[np.intp]) -> None:
        """Judge the attribute rules once per building and floor, and hand every premises its share."""
        shared, floors, made = batch.shared, batch.floor, self._shared_findings  # once a premises
        for i, building in zip(idx.tolist(), batch.building[idx].tolist()):
            key = (rules.ids, building, floors[i])
            found = made.get(key)
            if found is None:
                found = made.keep(key, self._shared(rules, building, floors[i] or None))
            shared[i] = found

    def _shared(self, rules: _RuleSet, building: int, floor: int | None) -> _Shared:
        checked, reasons = [], []
        for rule in rules.attributes:
            outcome, reason = _attribute_reason(rule, floor, self._building(building))
            checked.append(self._checked(rule, outcome))
            if reason is not None:
                reasons.append(reason)
        after = [no_building()] if building < 0 else []
        passed = [self._checked(rule, "passed") for rule in rules.zones]
        ids = tuple(r["id"] for r in reasons + after)
        found = reasons + after
        return _Shared(
            reasons, after, passed, checked, ids, VERDICTS[rank(found, None)], found, passed + checked
        )

    def _checked(self, rule: dict[str, Any], outcome: str) -> dict[str, str]:
        return self._cached(  # shared: a result never changes it
            ("checked", rule["id"], outcome),
            lambda: {"id": rule["id"], "title": rule["title"], "outcome": outcome},
        )

    def _zone_map(self, rule: dict[str, Any]) -> CellMap:
        """Cell → zones of the rule's kinds that may lie within its distance of a point there."""
        return self._cached(("zones", rule["id"]), self._make_zone_map, rule)

    def _make_zone_map(self, rule: dict[str, Any]) -> CellMap:
        kinds = set(rule["params"]["zone_kinds"])
        rows = np.flatnonzero(self.zones.features["kind"].isin(kinds).to_numpy())
        return self.zones.cell_map(KINDS[rule["kind"]].radius_m(rule["params"]), rows)

    def _near_cells(self, rules: list[dict[str, Any]]) -> frozenset[int]:
        """The cells with a zone of any of the rules within its distance."""
        return frozenset().union(*(self._zone_map(rule) for rule in rules))

    def _zone_rules(self, rules: list[dict[str, Any]], batch: _Batch, idx: NDArray[np.intp]) -> None:
        """Distance and containment rules, all candidate pairs measured in one vectorised pass."""
        if not rules:
            return
        ids = tuple(r["id"] for r in rules)
        cells = batch.cells(self.zones.version.h3_resolution)[idx].tolist()
        # Most premises are far from every zone: one look-up each finds the few near any of them.
        near = self._cached(("near", ids), self._near_cells, rules)
        keep = [q for q, cell in enumerate(cells) if cell in near]
        if not keep:  # no zone is near any of them: all pass
            return
        if len(keep) < len(cells):
            idx, cells = idx[keep], [cells[q] for q in keep]
        pairs = [cell_pairs(self._zone_map(rule), cells) for rule in rules]
        pos = np.concatenate([p for p, _ in pairs])
        rows = np.concatenate([r for _, r in pairs])
        which = np.repeat(np.arange(len(rules)), [len(p) for p, _ in pairs])
        # Distance is 0 exactly when the point is inside (or on) the zone: one measure decides both.
        distance = shapely.distance(self.zones.local[rows], batch.points[idx[pos]])
        meters, by_distance = self._cached(("limits", ids), lambda: _limits(rules))
        hit = zone_hits(distance, meters[which], by_distance[which])
        found: dict[int, dict[int, list[tuple[float, int]]]] = defaultdict(lambda: defaultdict(list))
        for k, p, d, row in zip(
            which[hit].tolist(), pos[hit].tolist(), distance[hit].tolist(), rows[hit].tolist()
        ):
            found[p][k].append((d, row))
        for p, by_rule in found.items():
            i = int(idx[p])
            checked = []
            for k, rule in enumerate(rules):
                hits = by_rule.get(k)
                checked.append(self._checked(rule, "passed" if hits is None else "violated"))
                if hits is not None:
                    meters_k = KINDS[rule["kind"]].radius_m(rule["params"])
                    batch.head[i].append(self._zone_reason(rule, sorted(hits), meters_k))
            batch.checked_zones[i] = checked

    def _zone_reason(
        self, rule: dict[str, Any], found: list[tuple[float, int]], meters: float
    ) -> dict[str, Any]:
        zones = self._zone_recs
        distance, row = found[0]
        zone = zones[row]
        features = [
            {
                "layer": "zones",
                "id": zones[r]["id"],
                "name": zones[r]["name"],
                "kind": zones[r]["kind"],
                "distance_m": round(d, 3),
            }
            for d, r in found
        ]
        zh_text, en_text, measures = KINDS[rule["kind"]].zone_texts(zone, distance, meters)
        return _reason(rule, "violated", zh_text, en_text, {"features": features} | measures)

    # ---- result ---------------------------------------------------------------------------------

    def _prefiled_vacancies(self) -> dict[str, list[tuple[str, dict[str, str] | None]]]:
        """By building, its pre-filed vacancies, each with its filing (None for one verified
        without a filing)."""
        prefiled: dict[str, list[tuple[str, dict[str, str] | None]]] = defaultdict(list)
        vac = self.locator.vacancies  # tied to their buildings, live listings included
        filed = vac.reindex(columns=["prefiling_no", "prefiled_on", "prefiled_until"]).to_numpy(object)
        for vid, bid, flag, (number, on, until) in zip(vac["id"], vac["building_id"], vac["prefiled"], filed):
            if flag and bid:
                filing = {"vacancy_id": vid, "number": number, "approved_on": on, "valid_until": until}
                prefiled[bid].append((vid, filing if isinstance(number, str) else None))
        return prefiled

    def _address_proof(self, row: int, number: str | None, day: str) -> dict[str, Any]:
        """The address proof of premises in building ``row`` at house ``number`` on ``day``: one
        dict for all of them (a result never changes it), kept while the vacancies are the same."""
        return self._proofs.made((row, number, day), self._make_address_proof, row, number, day)

    def _make_address_proof(self, row: int, number: str | None, day: str) -> dict[str, Any]:
        building = self._building(row)
        if building is None and number is None:
            return NO_PROOF | premises_basis()
        bid = building["id"] if building else None
        # A pre-filing counts from its approval through the day it is valid until; one verified
        # without a filing (a department's list of pre-filed premises) counts as it is.
        held = [(vid, f) for vid, f in (self._prefiled.get(bid, []) if bid else [])
                if f is None or f["approved_on"] <= day <= f["valid_until"]]  # fmt: skip
        filings = [f for _, f in held if f is not None]
        return {
            "house_number_id": number,
            "certificate_no": self._certificates.number.get(number) if number else None,
            "building_certificates": self._certificates.of_building(bid) if bid else [],
            "prefiled": bool(held),
            "prefiled_vacancies": [vid for vid, _ in held],
            "prefilings": filings,
            "building_accepted": bool(building and building.get("accepted_on")),
            "accepted_on": building.get("accepted_on") if building else None,
            "acceptance_no": building.get("acceptance_no") if building else None,
            **premises_basis(),
        }

    def _results(self, batch: _Batch) -> list[dict[str, Any]]:
        """The full result of every premises of a batch."""
        # Python numbers: a numpy scalar a premises costs more.
        rows, lons, lats = batch.building.tolist(), batch.lon.tolist(), batch.lat.tolist()
        days = {day: day.isoformat() for day in set(batch.as_of)}  # a batch has a few
        return [
            self._result(batch, i, row, (lon, lat), days[day])
            for i, (row, lon, lat, day) in enumerate(zip(rows, lons, lats, batch.as_of))
        ]

    def _result(
        self, batch: _Batch, i: int, building: int, place: tuple[float, float], as_of: str
    ) -> dict[str, Any]:
        """The full result of premises ``i``, in ``building`` (a row of the layer, or -1) at the
        WGS-84 ``place``, judged as of the day ``as_of``."""
        p, match = batch.premises[i], batch.match.get(i)
        industry = self._industries[p.industry]
        if i in batch.error:
            return {
                "ref": p.ref,
                "industry": industry,
                "as_of": as_of,
                "error": batch.error[i],
                "match": match,
            }
        reasons, verdict = batch.judged(i)
        return {
            "ref": p.ref,
            "industry": industry,
            "as_of": as_of,
            "verdict": verdict,
            "verdict_zh": self._verdicts_zh[verdict],
            "location": {
                "lon": place[0],
                "lat": place[1],
                "coordsys": p.coordsys,
                "given": _given(p),
                "match": match,
                "district": batch.district[i],
            },
            "floor": batch.floor[i] or None,
            "building": None if building < 0 else self._public_buildings[building],
            "reasons": reasons,
            "checked": batch.checked(i),
            "address_proof": self._address_proof(building, batch.house_number.get(i), as_of),
            "layer_versions": self._versions,
        }

    def _verdict(self, batch: _Batch, i: int) -> Verdict:
        ref = batch.premises[i].ref
        if i in batch.error:
            return Verdict(ref, "", (), batch.error[i])
        if not batch.own(i):  # the common case: nothing beyond what it shares with others
            shared = batch.shared[i]
            return Verdict(ref, shared.verdict, shared.ids, "")
        reasons, verdict = batch.judged(i)
        return Verdict(ref, verdict, tuple(r["id"] for r in reasons), "")


class _Certificates:
    """The certified house numbers: each one's certificate, and each building's as records made
    when asked. Columns rather than a record kept for each: a city has half a million."""

    COLUMNS = ("id", "building_id", "certificate_no", "address")

    def __init__(self, numbers: pd.DataFrame):
        certified = numbers.loc[numbers["certificate_no"].notna(), list(self.COLUMNS)]
        certified = certified.sort_values("building_id", kind="stable")  # a building's in layer order
        self.columns = [certified[c].to_numpy(object) for c in self.COLUMNS]
        self.number = dict(zip(self.columns[0].tolist(), self.columns[2].tolist()))
        buildings = self.columns[1]
        firsts = np.r_[True, buildings[1:] != buildings[:-1]] if len(buildings) else NO_ROWS
        self._starts = np.flatnonzero(firsts)
        self._group = dict(zip(buildings[self._starts].tolist(), range(len(self._starts))))

    def of_building(self, building_id: str) -> list[dict[str, str]]:
        group = self._group.get(building_id)
        if group is None:
            return []
        start = self._starts[group]
        stop = self._starts[group + 1] if group + 1 < len(self._starts) else len(self.columns[0])
        return [dict(zip(self.COLUMNS, values)) for values in zip(*(c[start:stop] for c in self.columns))]


def _public_building(records: _Records, row: int) -> dict[str, Any]:
    """The building of a result: a copy, so that the layer's own record is never handed out."""
    return dict(records[row])


def applies_in(rule: dict[str, Any], district: str) -> bool:
    """Whether a rule applies in a district: it names no districts (it applies in all), or this one."""
    scope = rule.get("districts")
    return not isinstance(scope, list) or not scope or district in scope


def _given(p: Premises) -> dict[str, Any]:
    """The place as the premises gave it."""
    if p.address is not None:
        return {"address": p.address}
    if p.vacancy_id is not None:
        return {"vacancy_id": p.vacancy_id}
    return {"lon": p.lon, "lat": p.lat}


# What a checker is made of but its prohibited list and the vacancies, which its successor makes
# again (a department's new list is a new version of one small layer: nothing else to redo).
LISTS = ("vacancies", "prohibited_addresses")


def checker_for(snapshot: Snapshot) -> Checker:
    """The checker of a snapshot, built once (from the previous one's when only the vacancies or
    the prohibited list changed)."""
    kept = tuple(sorted(set(snapshot.layers) - set(LISTS)))
    return snapshot.made("checker", lambda: _successor(snapshot.made_before("checker", kept), snapshot))


def _successor(previous: Checker | None, snapshot: Snapshot) -> Checker:
    """A checker for ``snapshot``: the previous snapshot's with the new vacancies and prohibited
    list (its records, maps and shared findings depend on neither), or a new one."""
    if previous is None:
        return Checker(snapshot)
    checker = copy.copy(previous)
    checker.snap, checker.locator = snapshot, locator_for(snapshot)
    if snapshot.layer("prohibited_addresses") is not previous.prohibited:
        checker.prohibited = snapshot.layer("prohibited_addresses")
        checker.listed = ProhibitedList(checker.prohibited, checker.numbers, checker._building_row)
    checker._prefiled, checker._proofs = checker._prefiled_vacancies(), Kept(PROOFS_KEPT)
    checker._versions = snapshot.versions
    return checker


class _CollectorPause:
    """Pause Python's cyclic garbage collector while batches run, then restore it as it was.

    A batch makes hundreds of thousands of dicts and lists, none of them cyclic: reference counting
    frees them. Left on, the collector scans them, and every cache entry made since the checker was
    built, again and again: 20,000 checks took 18% longer for it, a city's batch twice as long.
    Batches running at once (threads of a server) are counted, so the collector comes back when the
    last of them ends, not when the first does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = True

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self._was_enabled:
                    gc.enable()


cyclic_gc_paused = _CollectorPause()  # one for the process, as the collector is


def _limits(rules: list[dict[str, Any]]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Each zone rule's distance limit, and whether it is a distance (or a containment) rule."""
    meters = np.array([KINDS[r["kind"]].radius_m(r["params"]) for r in rules])
    return meters, np.array([KINDS[r["kind"]].by_distance for r in rules])


def _reason(
    rule: dict[str, Any], outcome: str, zh_text: str, en_text: str, evidence: dict[str, Any]
) -> dict[str, Any]:
    if rule.get("certainty") == "local_default":  # say so, and never stronger than review
        zh_text, en_text = f"{zh_text}（{law.LOCAL_DEFAULT_ZH}）", f"{en_text} ({law.LOCAL_DEFAULT_EN})"
    return {
        "source": "rule",
        "id": rule["id"],
        "title": rule["title"],
        "severity": law.capped(rule, rule["severity"] if outcome == "violated" else "review"),
        "outcome": outcome,
        **law.finding_fields(rule),  # basis, the citations quoted, certainty, department
        "message_zh": zh_text,
        "message_en": en_text,
        "evidence": evidence,
        "effective_from": rule["effective_from"],
        "effective_to": rule["effective_to"],
    }


def _attribute_reason(
    rule: dict[str, Any], floor: int | None, building: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """The outcome of an attribute rule and, unless it passed, its reason."""
    outcome, text_zh, text_en, evidence = judge_on_building(rule, floor, building)
    return outcome, None if outcome == "passed" else _reason(rule, outcome, text_zh, text_en, evidence)


def _unresolved_location(level: str) -> dict[str, Any]:
    return {
        "source": "resolution",
        "id": "address-level",
        "title": "地址匹配精度不足",
        "severity": "review",
        "outcome": "unresolved",
        **premises_basis(),
        "department": "",
        "message_zh": f"地址仅匹配到{zh('levels', level)}级别，位置为近似位置，需人工核实",
        "message_en": f"the address matched only at {level} level; the location is approximate",
        "evidence": {"match_level": level},
    }


PROOFS_KEPT = 4096  # address proofs kept for the premises that follow (a city's buildings would not fit)

NO_PROOF: dict[str, Any] = {
    "house_number_id": None, "certificate_no": None, "building_certificates": [], "prefiled": False,
    "prefiled_vacancies": [], "prefilings": [], "building_accepted": False, "accepted_on": None,
    "acceptance_no": None,
}  # fmt: skip

NOT_SHARED = _Shared([], [], [], [], (), "", [], [])  # until the premises' group is judged

# What a check cannot settle from the layers (where the premises is, its address proof) rests on
# the premises rules themselves: a business registers a real, lawful, fixed place (第四条), and
# under self-declaration the applicant answers for it (第六条).
PREMISES_BASIS = [
    {"law": "山东住所登记办法", "revision": "2024-03-28", "article": "第四条"},
    {"law": "山东住所登记办法", "revision": "2024-03-28", "article": "第六条"},
]


@functools.cache
def premises_basis() -> dict[str, Any]:
    """The basis of the location findings and of the address proof, with its articles quoted."""
    return {"basis": law.basis_text(PREMISES_BASIS), "citations": law.resolve(PREMISES_BASIS)}


@functools.cache
def no_building() -> dict[str, Any]:
    """The finding of premises that lies in no known building (one, shared by every result)."""
    return {
        "source": "resolution", "id": "no-building", "title": "未找到所在建筑",
        "severity": "review", "outcome": "unresolved", **premises_basis(), "department": "",
        "message_zh": "该位置不在任何已登记建筑内，需人工核实",
        "message_en": "the premises lies in no known building",
        "evidence": {},
    }  # fmt: skip


class _Records:
    """A layer's attributes as plain records, one made for each row asked for: kept made, a city's
    200,000 buildings' records took 50 MB, and a check reads a few."""

    def __init__(self, layer: LayerIndex):
        attributes = layer.features.drop(columns="geometry")
        self.names = list(attributes.columns)
        self.columns = [attributes[c].tolist() for c in self.names]  # as ``to_dict`` gives them

    def __getitem__(self, row: int) -> dict[str, Any]:
        return dict(zip(self.names, [column[row] for column in self.columns]))
