"""The ``siteselect`` command line: load, list, export layers; build the demo; serve the API."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from siteselect.coords import COORDSYS
from siteselect.errors import SiteSelectError
from siteselect.settings import Settings
from siteselect.store import Store


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"database_url": args.database_url} if args.database_url else {}
    return Settings(**overrides)


def _store(args: argparse.Namespace) -> Store:
    settings = _settings(args)
    return Store(settings.database_url, h3_resolution=settings.h3_resolution)


def _progress(label: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{label}: {done:,}/{total:,} rows", end=end, file=sys.stderr, flush=True)

    return report


def cmd_load(args: argparse.Namespace) -> int:
    from siteselect.load import load_file

    store = _store(args)
    version = load_file(
        store,
        args.layer,
        args.file,
        coordsys=args.coordsys,
        settings=_settings(args),
        loaded_by=args.user,
        on_progress=_progress(f"loading {args.layer}"),
    )
    print(f"{args.layer}: version {version.version}, {version.feature_count:,} features from {args.file}")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    store = _store(args)
    versions = store.versions() if args.all else list(store.current_versions().values())
    if not versions:
        print("no layers loaded yet: try `siteselect demo` or `siteselect load LAYER FILE`")
        return 0
    print(f"{'layer':22} {'version':>7} {'features':>9}  {'loaded at (UTC)':20} {'by':10} source")
    for v in versions:
        when = v.loaded_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{v.layer:22} {v.version:>7} {v.feature_count:>9,}  {when:20} {v.loaded_by:10} {v.source}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from siteselect.io import write_layer_file

    store = _store(args)
    gdf = store.read_layer(args.layer, version=args.version)
    write_layer_file(gdf, args.file, coordsys=args.coordsys)
    print(f"{args.layer}: {len(gdf):,} features written to {args.file} ({args.coordsys})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from siteselect.demo import LOAD_ORDER, write_demo
    from siteselect.load import load_file

    files = write_demo(args.out)
    print(f"demo files written to {args.out}")
    if args.no_load:
        return 0
    store = _store(args)
    for layer in LOAD_ORDER:
        version = load_file(store, layer, files[layer], settings=_settings(args), loaded_by="demo")
        print(f"  {layer:22} version {version.version:>3}  {version.feature_count:>6,} features")
    return 0


def cmd_industries(args: argparse.Namespace) -> int:
    from siteselect.industry import search

    for hit in search(args.query, args.limit):
        print(
            f"{hit['code']}  {hit['name']:24} {hit['section']} {hit['division_name']}  ({hit['matched_by']})"
        )
    return 0


def _snapshot(args: argparse.Namespace) -> Any:
    from siteselect.index import Catalog

    return Catalog(_store(args), _settings(args)).current()


def cmd_geocode(args: argparse.Namespace) -> int:
    match = _snapshot(args).gazetteer.resolve(args.text)
    print(json.dumps(match.as_dict(), ensure_ascii=False, indent=2))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from siteselect.check import Premises

    checker = _snapshot(args).checker
    if args.file is not None:
        return _check_file(checker, args)
    premises = Premises.parse(
        industry=args.industry, address=args.address, lon=args.lon, lat=args.lat,
        coordsys=args.coordsys, floor=args.floor, as_of=args.as_of,
    )  # fmt: skip
    result = checker.check(premises)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(_verdict_text(result))
    return 0


def _verdict_text(result: dict[str, Any]) -> str:
    industry = result["industry"]
    lines = [f"{result['verdict_zh']} ({result['verdict']})  {industry['code']} {industry['name']}"]
    building = result["building"]
    lines.append(
        f"  building: {building['name'] + ' (' + building['use'] + ')' if building else 'none found'}"
    )
    for reason in result["reasons"]:
        lines.append(f"  - [{reason['severity']}/{reason['outcome']}] {reason['message_zh']}")
        if reason["basis"]:
            lines.append(f"      依据: {reason['basis']}")
    proof = result["address_proof"]
    lines.append(
        f"  address proof: certificate {proof['certificate_no'] or 'none'}, "
        f"pre-filed {'yes' if proof['prefiled'] else 'no'}, "
        f"building accepted {'yes' if proof['building_accepted'] else 'no'}"
    )
    return "\n".join(lines)


def _check_file(checker: Any, args: argparse.Namespace) -> int:
    """Check every row of a CSV; a bad row gets an error line, the others their verdicts."""
    import csv

    from siteselect.check import Premises

    with args.file.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    results: list[dict[str, Any]] = []
    chunk = 500
    for start in range(0, len(rows), chunk):
        batch: list[Premises] = []
        slots: list[dict[str, Any] | None] = []  # None: the next checked result goes here
        for n, row in enumerate(rows[start : start + chunk], start=start):
            fields = {k: v for k, v in row.items() if k} | {"ref": row.get("ref") or str(n + 1)}
            try:
                batch.append(Premises.parse(**fields))
                slots.append(None)
            except SiteSelectError as exc:
                slots.append({"ref": fields["ref"], "error": f"row {n + 1}: {exc}"})
        checked = iter(checker.check_many(batch))
        results += [slot if slot is not None else next(checked) for slot in slots]
        print(f"\rchecked {len(results):,}/{len(rows):,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    _write_results(results, args.out)
    return 0


def _write_results(results: list[dict[str, Any]], out: Path | None) -> None:
    import csv

    if out is not None and out.suffix.lower() == ".json":
        out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
        return
    columns = ["ref", "industry", "verdict", "lon", "lat", "match_level", "building_id", "reasons", "error"]
    stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    writer = csv.DictWriter(stream, fieldnames=columns)
    writer.writeheader()
    for r in results:
        location = r.get("location") or {}
        match = location.get("match") or {}
        writer.writerow({
            "ref": r.get("ref"), "industry": (r.get("industry") or {}).get("code"),
            "verdict": r.get("verdict", ""), "lon": location.get("lon"), "lat": location.get("lat"),
            "match_level": match.get("level", "coordinates" if location else ""),
            "building_id": (r.get("building") or {}).get("id"),
            "reasons": "; ".join(x["id"] for x in r.get("reasons", [])), "error": r.get("error", ""),
        })  # fmt: skip
    if out is not None:
        stream.close()


def cmd_match(args: argparse.Namespace) -> int:
    from siteselect.industry import resolve
    from siteselect.match import Constraints, match

    code = resolve(args.industry)
    weights = dict(_pair(w) for w in args.weight) if args.weight else None
    wanted = Constraints(
        area_min=args.area_min, area_max=args.area_max, max_rent=args.max_rent, streets=tuple(args.street),
        floor_min=args.floor_min, floor_max=args.floor_max, prefiled_only=args.prefiled_only,
        uses=tuple(args.use), include_addresses=args.addresses,
    )  # fmt: skip
    result = match(_snapshot(args), code, wanted, weights, args.limit)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    head = result["industry"]
    print(f"{head['code']} {head['name']} ({result['family_title'][0]}): {result['counts']['candidates']} "
          f"candidates, {len(result['excluded'])} set aside as prohibited")  # fmt: skip
    for n, r in enumerate(result["results"], start=1):
        flag = " [需核查]" if r["flagged"] else ""
        print(f"{n:>2}. {r['score']:5.1f}  {r['address']}  {r['area_m2'] or '-'}㎡  {r['rent'] or '-'}元  "
              f"stability {r['stability']:.2f}{flag}")  # fmt: skip
        for name, c in r["criteria"].items():
            print(f"      {name:10} {'—' if c['missing'] else c['score']:>5}  {c['explanation_zh']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import datetime as dt

    from siteselect import industry, report
    from siteselect.drawing import Basemap

    request = report.ReportRequest(
        industry=industry.resolve(args.industry),
        sites=tuple(_site(text) for text in args.site),
        weights=dict(_pair(w) for w in args.weight) if args.weight else None,
        as_of=_as_of(args.as_of),
    )
    basemap = Basemap.from_settings(_settings(args))
    made = report.build(_snapshot(args), request, basemap, dt.datetime.now(dt.UTC))
    out = args.out or Path(f"report-{made.id}.html")
    out.write_text(made.html, encoding="utf-8")
    print(f"report {made.id}: {', '.join(made.verdicts)} -> {out}")
    return 0


def _site(text: str) -> dict[str, Any]:
    """``--site`` is ``lon,lat``, ``vacancy:ID`` or an address."""
    if text.startswith("vacancy:"):
        return {"vacancy_id": text.removeprefix("vacancy:")}
    lon, sep, lat = text.partition(",")
    try:
        return {"lon": float(lon), "lat": float(lat)} if sep else {"address": text}
    except ValueError:
        return {"address": text}


def _as_of(text: str | None) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        raise SiteSelectError(f"--as-of {text!r} is not a date YYYY-MM-DD") from None


def _pair(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError:
        raise SiteSelectError(f"--weight {text!r}: write criterion=number, e.g. cost=2") from None


def cmd_batch(args: argparse.Namespace) -> int:
    import time

    from siteselect.batch import assess, assess_distributed, connect, read_candidates

    candidates = read_candidates(args.file, args.on_bad)
    for problem in candidates.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    snapshot = _snapshot(args)
    start = time.perf_counter()
    if args.scheduler:
        with connect(args.scheduler) as client:
            results = assess_distributed(snapshot, candidates.table, client)
    else:
        results = assess(snapshot, candidates.table)
    took = time.perf_counter() - start
    results.to_csv(args.out, index=False)
    print(f"{len(results):,} candidates checked and scored in {took:.1f} s → {args.out}"
          f" ({len(candidates.problems)} bad rows skipped)")  # fmt: skip
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from siteselect import accounts

    store = _store(args)
    if args.action == "add":
        user = accounts.add_user(store, args.name, args.role, args.park)
        print(f"user {user.name}: {user.role}" + (f", parks {', '.join(user.parks)}" if user.parks else ""))
    elif args.action == "password":
        from siteselect import sessions

        # typed at a terminal without echo; piped in from a script
        password = (
            getpass.getpass(f"password for {args.name}: ") if sys.stdin.isatty() else sys.stdin.readline()
        )
        sessions.set_password(store, args.name, password.rstrip("\n"))
        print(f"password set for {args.name}; its sessions have ended")
    else:
        for user in accounts.users(store):
            print(f"{user.id:>4}  {user.name:20} {user.role:9} {', '.join(user.parks)}")
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from siteselect import accounts

    store = _store(args)
    if args.action == "create":
        token, token_id = accounts.create_token(store, args.name, args.label or "")
        print(f"token {token_id} for {args.name} (shown this once, keep it safe):\n{token}")
    elif args.action == "revoke":
        accounts.revoke_token(store, args.id)
        print(f"token {args.id} revoked")
    else:
        for t in accounts.tokens(store):
            state = f"revoked {t['revoked_at']:%Y-%m-%d}" if t["revoked_at"] else "active"
            print(f"{t['id']:>4}  {t['name']:20} {t['label']:16} {t['created_at']:%Y-%m-%d}  {state}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    if args.database_url:
        os.environ["SITESELECT_DATABASE_URL"] = args.database_url
    uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siteselect", description=__doc__)
    parser.add_argument("--database-url", help="store URL (default: $SITESELECT_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("load", help="load a layer file as a new version")
    p.add_argument("layer")
    p.add_argument("file", type=Path)
    p.add_argument("--coordsys", choices=COORDSYS, default="wgs84")
    p.add_argument("--user", help="who loads it (recorded with the version)")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("layers", help="list layers with their current versions")
    p.add_argument("--all", action="store_true", help="every version, not only the current ones")
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("export", help="write a layer to a file")
    p.add_argument("layer")
    p.add_argument("file", type=Path)
    p.add_argument("--coordsys", choices=COORDSYS, default="wgs84")
    p.add_argument("--version", type=int, help="a stored version (default: the current one)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("demo", help="build the Laoshan demo data and load it")
    p.add_argument("--out", type=Path, default=Path("var/demo"), help="where to write the files")
    p.add_argument("--no-load", action="store_true", help="only write the files")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("industries", help="find GB/T 4754 classes by code or everyday words")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_industries)

    p = sub.add_parser("geocode", help="resolve an address to a place")
    p.add_argument("text")
    p.set_defaults(func=cmd_geocode)

    p = sub.add_parser("check", help="check premises for an industry (one, or every row of --file)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--address")
    where.add_argument("--lon", type=float)
    where.add_argument(
        "--file", type=Path, help="CSV: industry, address or lon/lat, [coordsys, floor, as_of, ref]"
    )
    p.add_argument("--lat", type=float)
    p.add_argument("--coordsys", choices=COORDSYS, default="wgs84")
    p.add_argument("--industry", help="GB/T 4754 class code or everyday words, e.g. 6210, 火锅")
    p.add_argument("--floor", type=int)
    p.add_argument("--as-of", help="judge by the rules in force on this date (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.add_argument("--out", type=Path, help="with --file: write results here (.csv or .json)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("match", help="rank available premises for a business")
    p.add_argument("industry", help="class code or everyday words (奶茶, 6232)")
    p.add_argument("--area-min", type=float)
    p.add_argument("--area-max", type=float)
    p.add_argument("--max-rent", type=float, help="元/m²/month")
    p.add_argument("--street", action="append", default=[], help="a street name; repeat for several")
    p.add_argument("--floor-min", type=int)
    p.add_argument("--floor-max", type=int)
    p.add_argument("--use", action="append", default=[], help="building use; repeat for several")
    p.add_argument("--prefiled-only", action="store_true")
    p.add_argument("--addresses", action="store_true", help="also rank certified house-number addresses")
    p.add_argument("--weight", action="append", default=[], help="criterion=weight, e.g. cost=2")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_match)

    p = sub.add_parser("report", help="draw the map report of a site, or compare two to five")
    p.add_argument("industry", help="class code or everyday words (网吧, 9013)")
    p.add_argument(
        "--site", action="append", required=True, help="lon,lat | vacancy:ID | an address; repeat to compare"
    )
    p.add_argument("--weight", action="append", default=[], help="criterion=weight, e.g. cost=2")
    p.add_argument("--as-of", help="judge by the rules in force on this day (YYYY-MM-DD)")
    p.add_argument("--out", type=Path, help="HTML file (default: report-<id>.html)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("batch", help="check and score every candidate of a file, here or on a Dask cluster")
    p.add_argument("file", type=Path, help="CSV: ref, industry, lon, lat[, floor]")
    p.add_argument("--out", type=Path, required=True, help="results CSV")
    p.add_argument("--scheduler", help="tcp://host:port of a Dask scheduler (default: this process)")
    p.add_argument(
        "--on-bad", choices=["skip", "refuse"], default="skip", help="bad rows: skip them or run nothing"
    )
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("users", help="add or list users (admin, clerk, steward, operator), or set a password")
    users_sub = p.add_subparsers(dest="action", required=True)
    q = users_sub.add_parser("add")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=["admin", "clerk", "steward", "operator"])
    q.add_argument("--park", action="append", default=[], help="an operator's park id; repeat for several")
    q = users_sub.add_parser(
        "password", help="set a password to sign in with (read from the terminal or stdin)"
    )
    q.add_argument("name")
    users_sub.add_parser("list")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser("tokens", help="create, revoke or list bearer tokens")
    tokens_sub = p.add_subparsers(dest="action", required=True)
    q = tokens_sub.add_parser("create")
    q.add_argument("name", help="the user the token is for")
    q.add_argument("--label", help="where it will be used, e.g. 'park office laptop'")
    q = tokens_sub.add_parser("revoke")
    q.add_argument("id", type=int)
    tokens_sub.add_parser("list")
    p.set_defaults(func=cmd_tokens)

    p = sub.add_parser("serve", help="run the HTTP service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SiteSelectError as exc:
        print(f"siteselect: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
