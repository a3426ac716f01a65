"""One premises, one verdict, whichever way it is asked: a property drawn over the Laoshan demo.

Premises are drawn from the demo — house-number, building, road, street and unresolvable
addresses; points in WGS-84, GCJ-02 and BD-09; addresses on the prohibited list; vacancies,
among them one an operator has just published and one a clerk has just pre-filed — and judged
by the library (one and in a batch), ``POST /check``, ``POST /check/batch``, ``POST /compare``,
``POST /reports``, ``POST /match`` (vacancies), ``siteselect check`` and ``siteselect batch``
(in one process and on a two-worker Dask cluster). Each must give the same verdict, the same
reason ids and the same building. Many examples go through the library and the API; a few
through the slow doors (the command line in a subprocess, the cluster).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from distributed import Client
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from siteselect import accounts, batch
from siteselect.batch import assess
from siteselect.batch_output import read_results
from siteselect.candidates import read_candidates
from siteselect.check import checker_for
from siteselect.coords import from_wgs84
from siteselect.premises import Premises, today
from siteselect.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-06-01"
INDUSTRIES = ("9013", "6210", "5271", "6513", "8010")  # internet café, restaurant, retail, software, bar
ITEMS = "/ogc/collections/vacancies/items"


@pytest.fixture(scope="module")
def world(demo_db, tmp_path_factory):
    """The demo service, with one listing just published and one just pre-filed."""
    folder = tmp_path_factory.mktemp("same-verdict")
    shutil.copy(demo_db.removeprefix("sqlite:///"), folder / "store.db")
    url = f"sqlite:///{folder / 'store.db'}"
    with TestClient(create_app(Settings(_env_file=None, database_url=url))) as client:  # type: ignore[call-arg]
        store = client.app.state.store  # type: ignore[attr-defined]
        accounts.add_user(store, "operator-a", "operator", ["park-001"])
        accounts.add_user(store, "clerk", "clerk")
        auth = {
            n: {"Authorization": f"Bearer {accounts.create_token(store, n)[0]}"}
            for n in ("operator-a", "clerk")
        }
        feature = {
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [120.445, 36.131]},
            "properties": {"park_id": "park-001", "address": "株洲路153-1号5层01室", "floor": 5,
                           "area_m2": 333.0, "rent": 75.0, "use": "office", "status": "available"},
        }  # fmt: skip
        published = client.post(ITEMS, json=feature, headers=auth["operator-a"]).json()["id"]
        snapshot = client.app.state.catalog.current()  # type: ignore[attr-defined]
        vacancies = snapshot.layer("vacancies").features
        open_ = (vacancies["status"] == "available") & ~vacancies["prefiled"].fillna(False).astype(bool)
        prefiled = str(vacancies.loc[open_, "id"].iloc[0])
        patched = client.patch(
            f"{ITEMS}/{prefiled}", json={"prefiled": True}, headers=auth["clerk"] | {"If-Match": "*"}
        )
        assert patched.status_code == 200
        yield {"client": client, "url": url, "folder": folder, "published": published, "prefiled": prefiled}


@pytest.fixture(scope="module")
def demo(world):
    """What premises are drawn from."""
    snapshot = world["client"].app.state.catalog.current()
    numbers = snapshot.layer("house_numbers").features
    cases = list(csv.DictReader((ROOT / "tests" / "data" / "address_cases.csv").open(encoding="utf-8")))
    entries = snapshot.layer("prohibited_addresses").features
    districts = snapshot.layer("districts").features
    outline = districts[districts["level"] == "district"].geometry.iloc[0]
    vacancies = snapshot.layer("vacancies").features
    available = vacancies[vacancies["status"] == "available"]
    return {
        "numbers": numbers["address"].tolist(),
        "cases": {
            level: [c["query"] for c in cases if c["level"] == level] for level in {c["level"] for c in cases}
        },
        "listed": [a for a in entries["address"].tolist() if a],
        "listed_points": [(g.x, g.y) for g in entries.geometry if g is not None and g.geom_type == "Point"],
        "bounds": outline.bounds,
        "outline": outline,
        "vacancies": sorted(set(available["id"].tolist()[:40]) | {world["published"], world["prefiled"]}),
        "vacancy_rows": available.set_index("id"),
    }


def _places(demo: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Where premises are: every kind of address, points in every system, vacancies."""
    addresses = st.one_of(
        st.sampled_from(demo["numbers"]),
        *(st.sampled_from(demo["cases"][level]) for level in ("building", "road", "street", "none")),
        st.sampled_from(demo["listed"]),
    ).map(lambda a: {"address": a})
    minx, miny, maxx, maxy = demo["bounds"]
    anywhere = st.tuples(st.floats(minx, maxx), st.floats(miny, maxy))
    near_listed = st.sampled_from(demo["listed_points"]).flatmap(
        lambda p: st.tuples(st.floats(p[0] - 2e-4, p[0] + 2e-4), st.floats(p[1] - 2e-4, p[1] + 2e-4))
    )
    points = st.tuples(st.one_of(anywhere, near_listed), st.sampled_from(("wgs84", "gcj02", "bd09"))).map(
        _in_system
    )
    return st.one_of(addresses, points, st.sampled_from(demo["vacancies"]).map(lambda v: {"vacancy_id": v}))


def _in_system(drawn: tuple[tuple[float, float], str]) -> dict[str, Any]:
    (lon, lat), system = drawn
    x, y = from_wgs84(np.array([lon]), np.array([lat]), system)
    return {"lon": float(x[0]), "lat": float(y[0]), "coordsys": system}


def _premises(demo: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    floors = st.one_of(st.none(), st.integers(-2, 30).filter(lambda f: f != 0))
    return st.builds(lambda place, industry, floor: place | {"industry": industry, "floor": floor},
                     _places(demo), st.sampled_from(INDUSTRIES), floors)  # fmt: skip


def _brief(result: dict[str, Any]) -> tuple[str, tuple[str, ...], str | None]:
    """What every door must agree on: the verdict, the reason ids, the building."""
    if "error" in result:
        return ("error", (), None)
    building = (result.get("building") or {}).get("id")
    return (result["verdict"], tuple(r["id"] for r in result["reasons"]), building)


def _site(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("industry", "as_of") and v is not None}


def _by_library_and_api(world: dict[str, Any], body: dict[str, Any], as_of: str = AS_OF) -> tuple[Any, ...]:
    """The premises judged by the library (alone and in a batch) and the API; all must agree."""
    client = world["client"]
    body = body | {"as_of": as_of}
    checker = checker_for(client.app.state.catalog.current())
    premises = Premises.parse(**body)
    alone = _brief(checker.check_many([premises])[0])
    among = checker.check_many([Premises.parse(industry="9013", lon=120.46, lat=36.1), premises])[1]
    brief = checker.verdicts([premises])[0]
    posted = client.post("/check", json={k: v for k, v in body.items() if v is not None})
    batch = client.post("/check/batch", json={"items": [{k: v for k, v in body.items() if v is not None}]})
    assert batch.status_code == 200, batch.text
    assert _brief(among) == alone
    assert (brief.verdict or "error", brief.reasons) == alone[:2]
    assert _brief(batch.json()["results"][0]) == alone
    if alone[0] == "error":
        assert posted.status_code == 422
        return alone
    assert posted.status_code == 200 and _brief(posted.json()) == alone
    compared = client.post("/compare", json={"industry": body["industry"], "as_of": as_of,
                                             "sites": [_site(body), _site(body)]})  # fmt: skip
    assert compared.status_code == 200, compared.text
    site = compared.json()["sites"][0]
    assert (site["verdict"], tuple(r["id"] for r in site["reasons"]), site["building_id"]) == alone
    return alone


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_library_and_api_agree_on_every_premises(world, demo):
    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(_premises(demo))
    def agree(body: dict[str, Any]) -> None:
        _by_library_and_api(world, body)

    agree()


def test_reports_and_matching_agree_with_the_check(world, demo):
    @settings(max_examples=12, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(_premises(demo))
    def agree(body: dict[str, Any]) -> None:
        client = world["client"]
        verdict, _, building = _by_library_and_api(world, body)
        if verdict == "error":
            return
        made = client.post(
            "/reports", json={"industry": body["industry"], "as_of": AS_OF, "sites": [_site(body)]}
        )
        assert made.status_code == 201 and made.json()["verdicts"] == [verdict]
        if building is not None:
            name = (
                client.app.state.catalog.current()
                .layer("buildings")
                .features.set_index("id")
                .loc[building, "name"]
            )
            assert name in client.get(made.json()["url"]).text
        if "vacancy_id" in body:
            _assert_match_agrees(world, demo, body, verdict, building)

    agree()


def _assert_match_agrees(world, demo, body, verdict, building) -> None:
    """The vacancy ranked (or set apart) by POST /match with the check's verdict and building."""
    row = demo["vacancy_rows"].loc[body["vacancy_id"]]
    wanted = {"area_min": float(row["area_m2"]), "area_max": float(row["area_m2"])}
    if body.get("floor") is not None:
        return  # a match judges the vacancy on its own floor
    asked = {"industry": body["industry"], "wanted": wanted, "limit": 200, "as_of": AS_OF}
    ranked = world["client"].post("/match", json=asked).json()
    found = {r["id"]: (r["verdict"], r["building_id"]) for r in ranked["results"]}
    found |= {r["id"]: (r["verdict"], building) for r in ranked["excluded"]}
    assert found[body["vacancy_id"]] == (verdict, building)


def test_the_command_line_and_batches_agree_with_the_check(world, demo, tmp_path_factory):
    """The slow doors, on a few examples: ``siteselect check`` in a subprocess, ``siteselect batch``
    in one process and on a two-worker Dask cluster (a batch file gives coordinates)."""
    client = world["client"]
    rng = np.random.default_rng(12)
    minx, miny, maxx, maxy = demo["bounds"]
    bodies = [
        {"industry": "9013", "address": demo["numbers"][7], "floor": 2},
        {"industry": "6210", "address": demo["cases"]["road"][0]},
        {"industry": "6513", "vacancy_id": world["prefiled"]},
        {"industry": "6513", "vacancy_id": world["published"]},
    ]
    points = [
        _in_system(((rng.uniform(minx, maxx), rng.uniform(miny, maxy)), s))
        for s in ("wgs84", "gcj02", "bd09")
    ]
    near = demo["listed_points"][:3]
    points += [_in_system(((x + 5e-5, y), "wgs84")) for x, y in near]
    bodies += [p | {"industry": INDUSTRIES[n % len(INDUSTRIES)], "floor": 3} for n, p in enumerate(points)]
    day = today().isoformat()  # a batch judges as of today
    expected = [_by_library_and_api(world, b, day) for b in bodies]
    for body, want in zip(bodies, expected):
        assert _cli_check(world["url"], body, day) == want, body
    folder = tmp_path_factory.mktemp("batch")
    rows = [(n, b) for n, b in enumerate(bodies) if "lon" in b]
    path = folder / "candidates.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ref", "industry", "lon", "lat", "floor", "coordsys"])
        for n, b in rows:
            writer.writerow(
                [n, b["industry"], repr(b["lon"]), repr(b["lat"]), b.get("floor") or "", b["coordsys"]]
            )
    snapshot = client.app.state.catalog.current()
    table = read_candidates(path, "refuse").table
    with batch.local_cluster(2) as cluster, Client(cluster) as dask:
        batch.run(snapshot, [path], folder / "spread", client=dask)
    spread = {r.ref: r for r in read_results(folder / "spread").itertuples()}
    here = {r["ref"]: r for r in _cli_batch(world["url"], path, folder)}
    assert len(spread) == len(here) == len(rows)
    for (n, _), local in zip(rows, assess(snapshot, table).itertuples()):
        verdict, reasons, _ = expected[n]
        want = (verdict if verdict != "error" else "", ";".join(reasons))
        assert (local.verdict, local.reasons) == want
        remote, cli = spread[str(n)], here[str(n)]
        assert (remote.verdict or "", remote.reasons or "") == want
        assert (cli["verdict"], cli["reasons"]) == want


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "siteselect.cli", "--database-url", url, *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip


def _cli_check(url: str, body: dict[str, Any], as_of: str) -> tuple[Any, ...]:
    args = ["check", "--industry", body["industry"], "--as-of", as_of, "--json"]
    if "address" in body:
        args += ["--address", body["address"]]
    elif "vacancy_id" in body:
        args += ["--vacancy", body["vacancy_id"]]
    else:
        args += [f"--lon={body['lon']!r}", f"--lat={body['lat']!r}", "--coordsys", body["coordsys"]]
    if body.get("floor") is not None:
        args += ["--floor", str(body["floor"])]
    done = _cli(url, *args)
    if done.returncode == 2:
        return ("error", (), None)
    assert done.returncode == 0, done.stderr
    return _brief(json.loads(done.stdout))


def _cli_batch(url: str, path: Path, folder: Path) -> list[dict[str, str]]:
    out = folder / "results.csv"
    done = _cli(url, "batch", str(path), "--out", str(folder / "here"), "--csv", str(out))
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8") as f:
        return [{k: v or "" for k, v in row.items()} for row in csv.DictReader(f)]
