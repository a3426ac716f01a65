"""The numeric core of scoring: bounds, monotonicity, missing data, weights."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from siteselect import scoring
from siteselect.errors import InvalidInputError

counts = st.integers(min_value=0, max_value=500)


@given(bus=counts, metro=counts, extra=st.integers(min_value=1, max_value=50))
def test_more_amenities_never_lower_the_amenity_score(bus, metro, extra):
    weights = {"bus": 1.0, "metro": 2.0}
    base = scoring.amenity_scores({"bus": [bus], "metro": [metro]}, weights)[0]
    more = scoring.amenity_scores({"bus": [bus + extra], "metro": [metro]}, weights)[0]
    assert 0.0 <= base <= more <= 100.0


@given(rent=st.floats(1, 1000), cheaper=st.floats(0, 0.99), budget=st.one_of(st.none(), st.floats(10, 500)))
def test_lower_rent_never_lowers_cost_fit(rent, cheaper, budget):
    high = scoring.cost_scores([rent], budget, 80.0)[0]
    low = scoring.cost_scores([rent * cheaper], budget, 80.0)[0]
    assert 0.0 <= high <= low <= 100.0


@given(d=st.floats(0, 20000), closer=st.floats(0, 1))
def test_nearer_transit_never_lowers_access(d, closer):
    assert scoring.access_scores([d * closer], [d])[0] >= scoring.access_scores([d], [d])[0]


def test_size_fit_is_full_inside_the_range_and_missing_without_one():
    inside, below, above = scoring.size_scores([50, 10, 400], 40, 120)
    assert inside == 100 and 0 < below < 100 and 0 < above < 100
    assert np.isnan(scoring.size_scores([50], None, None)[0])


def test_missing_criteria_are_left_out_not_scored_zero():
    weights = scoring.normalize_weights({"amenities": 1, "cost": 1})
    scores = np.array([[80.0, 0, 0, np.nan, np.nan, np.nan], [80.0, 0, 0, 40.0, np.nan, np.nan]])
    total = scoring.totals(scores, weights)
    assert total[0] == 80.0  # the missing rent does not drag the score down
    assert total[1] == 60.0


def test_weights_are_normalised_and_checked():
    w = scoring.normalize_weights({"amenities": 2, "access": 2})
    assert w == {"amenities": 0.5, "clustering": 0.0, "access": 0.5, "cost": 0.0, "size": 0.0, "floor": 0.0}
    for bad, words in [({"amenities": -1}, "non-negative"), ({"access": 0}, "above zero"),
                       ({"beauty": 1}, "unknown criteria")]:  # fmt: skip
        with pytest.raises(InvalidInputError, match=words):
            scoring.normalize_weights(bad)


@pytest.mark.parametrize(
    ("code", "family"),
    [("6232", "catering"), ("5212", "retail"), ("7231", "office"), ("3311", "light_manufacturing"),
     ("9011", "entertainment"), ("8393", "education"), ("8040", "general")],
)  # fmt: skip
def test_families(code, family):
    assert scoring.family_of(code) == family
    assert sum(scoring.default_weights(code).values()) == pytest.approx(1.0)


def test_stability_is_a_share_and_reproducible():
    scores = np.array([[90, 90, 90, 90, 90, 90], [50, 95, 40, 60, 60, 60], [10, 10, 10, 10, 10, 10]], float)
    w = scoring.normalize_weights(scoring.default_weights("6232"))
    first = scoring.ranking_stability(scores, w, top_k=1)
    assert first.tolist() == [1.0, 0.0, 0.0]
    assert (scoring.ranking_stability(scores, w, 2) == scoring.ranking_stability(scores, w, 2)).all()


def test_a_floor_off_the_familys_preferred_floors_scores_lower_the_further_off():
    catering = scoring.preferred_floors("6232")
    assert catering == (1, 2)
    floors = np.array([1, 2, 3, 5, 34, -1, -2])
    scores = scoring.floor_scores(floors, catering)
    assert scores[0] == scores[1] == 100.0
    assert 100 > scores[2] > scores[3] > scores[4] >= 0 and scores[4] < 1  # the 34th floor: nothing left
    assert scores[5] == pytest.approx(scores[2])  # one storey below the ground floor, as one above the first
    assert scores[6] < scores[5]


def test_a_family_without_a_floor_preference_or_a_premises_without_a_floor_leaves_the_floor_out():
    assert scoring.preferred_floors("7231") is None
    assert np.isnan(scoring.floor_scores(np.array([3.0]), None)).all()
    assert np.isnan(scoring.floor_scores(np.array([np.nan]), (1, 2))).all()
