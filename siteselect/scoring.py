"""Scoring candidates: the numeric core. Arrays in, arrays out; no geometry here.

Every criterion scores 0-100, higher is better, and NaN means *missing* — never a silent zero. The
total is the weighted mean of the criteria a candidate has, with the weights renormalised over
them. Each function is monotone in the way a user expects: more amenities never lower the amenity
score, a lower rent never lowers the cost fit.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike, NDArray

from siteselect import industry
from siteselect.errors import InvalidInputError
from siteselect.specs import layers_dir

CRITERIA = ("amenities", "clustering", "access", "cost", "size", "floor")
Array = NDArray[np.float64]


@functools.cache
def config() -> dict[str, Any]:
    """The scoring settings of ``layers/scoring.yaml``."""
    data: dict[str, Any] = yaml.safe_load((layers_dir() / "scoring.yaml").read_text(encoding="utf-8"))
    return data


def family_of(code: str) -> str:
    """The industry family of a class code: catering, retail, office, …

    >>> family_of("6232"), family_of("7231"), family_of("3311")
    ('catering', 'office', 'light_manufacturing')
    """
    for name, family in config()["families"].items():
        if any(industry.matches(code, p) for p in family["prefixes"]):
            return str(name)
    raise AssertionError("the general family matches every code")  # pragma: no cover


def default_weights(code: str) -> dict[str, float]:
    return dict(config()["families"][family_of(code)]["weights"])


def normalize_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights over the criteria, checked and scaled to sum to 1."""
    unknown = set(weights) - set(CRITERIA)
    if unknown:
        raise InvalidInputError(f"weights: unknown criteria {sorted(unknown)}; use {', '.join(CRITERIA)}")
    for name, value in weights.items():
        if not np.isfinite(value) or value < 0:
            raise InvalidInputError(f"weights.{name} must be a non-negative number, got {value!r}")
    total = float(sum(weights.values()))
    if total <= 0:
        raise InvalidInputError("weights: at least one weight must be above zero")
    return {name: float(weights.get(name, 0.0)) / total for name in CRITERIA}


def saturating(count: ArrayLike, scale: float) -> Array:
    """0 for none, rising towards 1: the first few count most."""
    return 1.0 - np.exp(-np.asarray(count, dtype=float) / scale)


def amenity_scores(counts: Mapping[str, ArrayLike], weights: Mapping[str, float]) -> Array:
    """Weighted saturating counts of what is within walking distance, per category."""
    sat = config()["saturation"]
    total = sum(weights.values())
    parts = [w * saturating(counts[c], sat[c]) for c, w in weights.items()]
    return 100.0 * np.sum(parts, axis=0) / total


def clustering_scores(same: ArrayLike, related: ArrayLike, quotient: ArrayLike) -> Array:
    """Same-division and related businesses nearby, and the location quotient (capped at 2)."""
    sat = config()["clustering_saturation"]
    lq = np.clip(np.nan_to_num(np.asarray(quotient, dtype=float)), 0.0, 2.0) / 2.0
    return 100.0 * (
        0.45 * saturating(same, sat["same"]) + 0.25 * saturating(related, sat["related"]) + 0.3 * lq
    )


def access_scores(metro_m: ArrayLike, bus_m: ArrayLike) -> Array:
    """Nearness of the nearest metro station (60%) and bus stop (40%)."""
    scale = config()["access_scale_m"]
    metro = np.exp(-np.asarray(metro_m, dtype=float) / scale["metro"])
    bus = np.exp(-np.asarray(bus_m, dtype=float) / scale["bus"])
    return 100.0 * (0.6 * np.nan_to_num(metro) + 0.4 * np.nan_to_num(bus))


def cost_scores(rent: ArrayLike, budget: float | None, typical: float) -> Array:
    """Rent against the budget (or, without one, the district's typical rent).

    100 at 60% of the reference or less, 50 at the reference, 0 at 150% of it; NaN without a rent.
    """
    reference = budget if budget else typical
    ratio = np.asarray(rent, dtype=float) / reference
    return np.clip(np.interp(ratio, [0.6, 1.0, 1.5], [100.0, 50.0, 0.0]), 0.0, 100.0)


def size_scores(area: ArrayLike, low: float | None, high: float | None) -> Array:
    """100 inside the wanted range, falling by the relative distance outside; NaN without a range."""
    a = np.asarray(area, dtype=float)
    if low is None and high is None:
        return np.full(a.shape, np.nan)
    lo = low if low is not None else 0.0
    hi = high if high is not None else np.inf
    below = np.where(a < lo, (lo - a) / max(lo, 1.0), 0.0)
    above = np.where(a > hi, (a - hi) / hi if np.isfinite(hi) else 0.0, 0.0)
    return 100.0 * np.exp(-3.0 * (below + above))


def preferred_floors(code: str) -> tuple[int, int] | None:
    """The floors a family does best on (first and last), or None when it has no preference.

    >>> preferred_floors("6232"), preferred_floors("7231")
    ((1, 2), None)
    """
    floors = config()["families"][family_of(code)].get("floors")
    return (int(floors[0]), int(floors[1])) if floors else None


def floor_scores(floor: ArrayLike, preferred: tuple[int, int] | None) -> Array:
    """100 on a preferred floor, losing about a third for each floor further off; NaN without a
    floor or without a preference. Floors skip 0 (1 is the ground floor, -1 the first basement)."""
    f = np.asarray(floor, dtype=float)
    if preferred is None:
        return np.full(f.shape, np.nan)
    low, high = preferred
    # Count storeys, not numbers: from -1 up to 1 is one floor.
    below = np.where(f < low, low - f - ((f < 0) & (low > 0)), 0.0)
    above = np.where(f > high, f - high - ((high < 0) & (f > 0)), 0.0)
    score = 100.0 * np.exp(-(below + above) / float(config()["floor_step"]))
    return np.asarray(np.where(np.isnan(f), np.nan, score), dtype=float)


def totals(scores: NDArray[np.float64], weights: Mapping[str, float]) -> Array:
    """Weighted mean over the criteria each candidate has (columns in ``CRITERIA`` order)."""
    w = np.array([weights[c] for c in CRITERIA], dtype=float)
    return _weighted_means(scores, w)


def _weighted_means(scores: NDArray[np.float64], w: NDArray[np.float64]) -> Array:
    """The mean of each candidate's scores over the criteria it has, weighted by ``w`` (one weight a
    criterion, or a column of them a set of weights: then a column of means a set). Products with
    the weights rather than sums over weighted copies: a city's pool is 100,000 rows."""
    used = (~np.isnan(scores)).astype(float) @ w
    summed = np.nan_to_num(scores) @ w
    return np.asarray(np.where(used > 0, summed / np.where(used > 0, used, 1), np.nan), dtype=float)


def ranking_stability(
    scores: NDArray[np.float64], weights: Mapping[str, float], top_k: int, trials: int = 200, seed: int = 0
) -> Array:
    """For each candidate in the top k, the share of ±20% weight changes that keep it there."""
    rng = np.random.default_rng(seed)
    base = np.array([weights[c] for c in CRITERIA], dtype=float)
    k = min(top_k, len(scores))
    jitter = base * rng.uniform(0.8, 1.2, (trials, len(base)))  # one trial a row
    jitter /= jitter.sum(axis=1, keepdims=True)
    total = _weighted_means(scores, jitter.T)  # every trial's totals at once: candidates × trials
    top = np.argsort(-np.nan_to_num(total, nan=-1.0), axis=0, kind="stable")[:k]
    return np.bincount(top.ravel(), minlength=len(scores)) / trials
