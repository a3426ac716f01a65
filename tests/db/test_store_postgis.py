import pytest
from siteselect.store import Store

@pytest.mark.postgis
def test_smoke(postgis_url):
    s = Store(postgis_url)
    assert s.postgis
