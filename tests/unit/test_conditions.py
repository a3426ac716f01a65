"""If-Match as RFC 9110 §13.1.1 has it: required on a change, ``*`` or a list of strong tags."""

import pytest

from siteselect.conditions import require_match
from siteselect.errors import InvalidInputError, PreconditionRequiredError, StaleWriteError

NOW = '"V1-3"'


@pytest.mark.parametrize("header", ["*", " * ", NOW, f'"V1-2", {NOW}', f'{NOW},"x"', f" {NOW} "])
def test_it_holds_for_any_current_revision_or_the_current_tag(header):
    require_match(header, NOW, "listing V1")


@pytest.mark.parametrize("header", ['"V1-2"', f"W/{NOW}", '"v1-3"', '"V1-2", W/"V1-3"'])
def test_weak_or_other_tags_do_not_hold(header):
    with pytest.raises(StaleWriteError, match="listing V1 changed since"):
        require_match(header, NOW, "listing V1")


@pytest.mark.parametrize("header", ["", "V1-3", f"{NOW} x", '"V1-3', "*, " + NOW, ","])
def test_a_malformed_list_is_named(header):
    with pytest.raises(InvalidInputError, match="If-Match"):
        require_match(header, NOW, "listing V1")


def test_without_it_a_change_is_refused_as_428():
    with pytest.raises(PreconditionRequiredError, match="listing V1: If-Match is required"):
        require_match(None, NOW, "listing V1")
