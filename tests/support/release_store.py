"""Fill a store as a released siteselect made it: run with that release's code on ``PYTHONPATH``.

    PYTHONPATH=<the release's tree> python tests/support/release_store.py URL DEMO_DIR OUT.json

Every kind of stored row is made through that release's own functions: every demo layer (its files
written to DEMO_DIR), one of them twice, users, tokens (one revoked), seeded listings, an
operator's change and a refusal (audit rows), and two stored reports, whose ids, verdicts and
pages go to OUT.json. It calls only what the release before migrations already had.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from pathlib import Path

from siteselect import accounts, listings, report
from siteselect.demo import LOAD_ORDER, write_demo
from siteselect.drawing import Basemap
from siteselect.errors import SiteSelectError
from siteselect.index import Catalog
from siteselect.load import load_file
from siteselect.store import Store


def fill(url: str, demo: Path) -> dict[str, dict[str, object]]:
    files = write_demo(demo)
    store = Store(url)
    for layer in LOAD_ORDER:
        load_file(store, layer, files[layer])
    load_file(store, "parks", files["parks"], loaded_by="second load")
    accounts.add_user(store, "管理员", "admin")
    operator_user = accounts.add_user(store, "创新园运营", "operator", ["park-001"])
    token, _ = accounts.create_token(store, operator_user.name, "park office")
    _, old = accounts.create_token(store, "管理员", "old laptop")
    accounts.revoke_token(store, old)
    operator = accounts.authenticate(store, token)
    assert operator is not None
    listings.seed(store)
    own = next(x for x in listings.all_listings(store) if x["park_id"] == "park-001")
    listings.update(store, operator, own["id"], {"rent": 88.0}, if_match=listings.etag(own), merge=True)
    other = next(x for x in listings.all_listings(store) if x["park_id"] not in (None, "park-001"))
    with contextlib.suppress(SiteSelectError):  # refused, and the refusal is in the audit log
        listings.update(store, operator, other["id"], {"rent": 1.0}, if_match=None, merge=True)
    snapshot = Catalog(store).current()
    drawn = {}
    for sites in ([{"vacancy_id": own["id"]}], [{"lon": 120.452, "lat": 36.1075}, {"vacancy_id": own["id"]}]):
        request = report.ReportRequest(industry="6239", sites=tuple(sites))
        when = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)
        made = report.build(snapshot, request, Basemap(), when)
        report.save(store, made, request, when)
        drawn[made.id] = {"verdicts": list(made.verdicts), "html": made.html}
    store.close()
    return drawn


if __name__ == "__main__":
    url, demo, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out.write_text(json.dumps(fill(url, demo)), encoding="utf-8")
