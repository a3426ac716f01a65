"""The kinds of rule, as one table: each kind's parameters, the distance within which a zone is a
candidate, its test, and its messages. Validation reads the parameters, the checker the tests and
messages, the report's map the distances of the buffers it draws.

>>> KINDS["min_distance"].radius_m({"zone_kinds": ["primary_school"], "meters": 200})
200.0
>>> KINDS["not_within"].hit(0.0, 0.0), KINDS["min_distance"].hit(150.0, 200.0)
(True, True)
>>> sorted(k for k, kind in KINDS.items() if kind.on_zones)
['min_distance', 'not_within']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siteselect.labels import en, zh

Finding = tuple[str, str, str, dict[str, Any]]  # outcome, message in Chinese, in English, evidence
Zone = dict[str, Any]  # a zone's record: id, name, kind


@dataclass(frozen=True)
class RuleKind:
    """One kind of rule.

    A kind is judged on the zones layer (``on_zones``: a zone of the rule's zone kinds is a hit at
    ``hit(distance, meters)``) or on the premises' building and floor (``judge``).
    """

    name: str
    params: dict[str, str]  # name → type: zone_kinds, use_list, number, int
    on_zones: bool = False
    by_distance: bool = False  # a zone is a hit closer than ``meters`` (else: only when inside it)
    judge: Callable[[dict[str, Any], int | None, dict[str, Any] | None], Finding] | None = None

    def radius_m(self, params: dict[str, Any] | None) -> float:
        """How far from a point a zone may lie and still be a hit (0: only a zone it is in)."""
        return float((params or {}).get("meters", 0.0)) if self.by_distance else 0.0

    def hit(self, distance: float, meters: float) -> bool:
        """Whether a zone at ``distance`` metres violates the rule (0: the point is inside it)."""
        return bool(zone_hits(np.array([distance]), np.array([meters]), np.array([self.by_distance]))[0])

    def zone_texts(self, zone: Zone, distance: float, meters: float) -> tuple[str, str, dict[str, Any]]:
        """The messages (Chinese, English) of a violation by the nearest ``zone``, and its measures."""
        name, kind_zh, kind_en = zone["name"], zh("zone_kinds", zone["kind"]), en("zone_kinds", zone["kind"])
        if self.by_distance and distance == 0:
            return (
                f"位于{name}（{kind_zh}）范围内，须距其{meters:g}米以上",
                f"inside {name} ({kind_en}); at least {meters:g} m away is required",
                {"distance_m": 0.0, "threshold_m": meters},
            )
        if self.by_distance:
            return (
                f"距{name}（{kind_zh}）{distance:.1f}米，小于{meters:g}米的限制",
                f"{distance:.1f} m from {name} ({kind_en}), closer than the {meters:g} m limit",
                {"distance_m": round(distance, 3), "threshold_m": meters},
            )
        return f"位于{name}（{kind_zh}）范围内", f"inside {name} ({kind_en})", {}


def zone_hits(
    distance: NDArray[np.float64], meters: NDArray[np.float64], by_distance: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """The zone test, over arrays of measures: closer than the limit for a distance kind, inside
    for the others. Distance is 0 exactly when the point is inside (or on) the zone."""
    return np.where(by_distance, distance < meters, distance == 0.0)


def judge_on_building(rule: dict[str, Any], floor: int | None, building: dict[str, Any] | None) -> Finding:
    """Evaluate a rule of a building or floor kind."""
    judge = KINDS[rule["kind"]].judge
    if judge is None:  # pragma: no cover - zone kinds are judged on the zones layer
        raise AssertionError(f"rule kind {rule['kind']} is judged on zones")
    return judge(rule, floor, building)


def _floor(rule: dict[str, Any], floor: int | None, building: dict[str, Any] | None) -> Finding:
    kind, bound, title = rule["kind"], int(rule["params"]["floor"]), rule["title"]
    if floor is None:
        return (
            "unresolved",
            f"未提供楼层，无法核验：{title}",
            f"no floor given, so '{title}' cannot be verified",
            {},
        )
    ok = floor >= bound if kind == "floor_at_least" else floor <= bound
    word_zh, word_en = (
        ("低于最低", "below the lowest") if kind == "floor_at_least" else ("高于最高", "above the highest")
    )
    text_zh, text_en = (
        f"所在楼层{floor}{word_zh}允许楼层{bound}",
        f"floor {floor} is {word_en} allowed floor {bound}",
    )
    return ("passed" if ok else "violated", text_zh, text_en, {"floor": floor, "floor_bound": bound})


def _in_building(
    test: Callable[[dict[str, Any], dict[str, Any], str, str, dict[str, Any]], Finding],
) -> Callable[[dict[str, Any], int | None, dict[str, Any] | None], Finding]:
    """A building kind's test, after what every one of them says when no building was found."""

    def judge(rule: dict[str, Any], floor: int | None, building: dict[str, Any] | None) -> Finding:
        title = rule["title"]
        if building is None:
            why_zh, why_en = "未能确定所在建筑", "the premises lies in no known building"
            return (
                "unresolved",
                f"{why_zh}，无法核验：{title}",
                f"{why_en}, so '{title}' cannot be verified",
                {},
            )
        use, name = building.get("use") or "unknown", building["name"]
        facts = {"features": [{"layer": "buildings", "id": building["id"], "name": name}], "use": use}
        return test(rule, building, use, name, facts)

    return judge


def _use(
    rule: dict[str, Any], building: dict[str, Any], use: str, name: str, facts: dict[str, Any]
) -> Finding:
    kind, params, title = rule["kind"], rule["params"] or {}, rule["title"]
    if use == "unknown":
        why_en = f"the use of building {name} is unknown"
        return (
            "unresolved",
            f"建筑{name}用途未知，无法核验：{title}",
            f"{why_en}, so '{title}' cannot be verified",
            facts,
        )
    bad = (use in params["uses"]) == (kind == "building_use_not_in")
    allowed = "、".join(zh("uses", u) for u in params["uses"])
    text_zh = f"所在建筑{name}用途为{zh('uses', use)}，" + (
        "该行业不得设于此类建筑" if kind == "building_use_not_in" else f"不在允许用途（{allowed}）内"
    )
    text_en = f"building {name} is {en('uses', use)}; " + (
        "this industry may not be in such a building"
        if kind == "building_use_not_in"
        else f"allowed uses are {', '.join(params['uses'])}"
    )
    return ("violated" if bad else "passed", text_zh, text_en, facts)


def _flue(
    rule: dict[str, Any], building: dict[str, Any], use: str, name: str, facts: dict[str, Any]
) -> Finding:
    if use != "mixed":
        return ("passed", "", "", facts)
    if building.get("flue") is None:
        return (
            "unresolved",
            f"建筑{name}为商住综合楼，是否有专用烟道未知",
            f"building {name} is mixed-use; flue unknown",
            facts,
        )
    text_en = f"building {name} is mixed-use without a dedicated kitchen-exhaust flue"
    outcome = "passed" if building["flue"] else "violated"
    return (
        outcome,
        f"所在建筑{name}为商住综合楼且无专用烟道",
        text_en,
        facts | {"flue": building["flue"]},
    )


def _accepted(
    rule: dict[str, Any], building: dict[str, Any], use: str, name: str, facts: dict[str, Any]
) -> Finding:
    accepted = building.get("accepted_on")
    text_en = f"building {name} has no completion acceptance on file"
    outcome = "passed" if accepted else "violated"
    return (outcome, f"所在建筑{name}未办理竣工验收备案", text_en, facts | {"accepted_on": accepted})


KINDS: dict[str, RuleKind] = {
    kind.name: kind
    for kind in (
        RuleKind(
            "min_distance", {"zone_kinds": "zone_kinds", "meters": "number"}, on_zones=True, by_distance=True
        ),
        RuleKind("not_within", {"zone_kinds": "zone_kinds"}, on_zones=True),
        RuleKind("building_use_not_in", {"uses": "use_list"}, judge=_in_building(_use)),
        RuleKind("building_use_in", {"uses": "use_list"}, judge=_in_building(_use)),
        RuleKind("requires_flue", {}, judge=_in_building(_flue)),
        RuleKind("requires_accepted_building", {}, judge=_in_building(_accepted)),
        RuleKind("floor_at_least", {"floor": "int"}, judge=_floor),
        RuleKind("floor_at_most", {"floor": "int"}, judge=_floor),
    )
}
