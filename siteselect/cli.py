"""The ``siteselect`` command line: load, list, export layers; build the demo; serve the API."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from siteselect.coords import COORDSYS
from siteselect.errors import LayerValidationError, SiteSelectError
from siteselect.settings import Settings
from siteselect.store import Store


def _settings(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from siteselect.settings import named

    overrides = {"database_url": args.database_url} if args.database_url else {}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SiteSelectError("bad setting: " + "; ".join(named(exc))) from None


def _store(args: argparse.Namespace) -> Store:
    return Store.from_settings(_settings(args))


def _progress(label: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r{label}: {done:,}/{total:,} rows", end=end, file=sys.stderr, flush=True)

    return report


def cmd_load(args: argparse.Namespace) -> int:
    from siteselect import accounts
    from siteselect.intake import read_mapping
    from siteselect.load import LoadOptions, load_file, plan_load
    from siteselect.sheets import write_problems

    store = _store(args)
    role = accounts.get_user(store, args.user).role if args.replace_all and args.user else None
    options = LoadOptions(
        coordsys=args.coordsys,
        sheet=args.sheet,
        mapping=read_mapping(args.mapping) if args.mapping else None,
        department=args.department,
        replace_all=args.replace_all,
        role=role,
        min_level=args.min_level,
    )
    try:
        if args.dry_run:
            _print_plan(plan_load(store, args.layer, args.file, options, settings=_settings(args),
                                  loaded_by=args.user or "", judge=True))  # fmt: skip
            return 0
        version = load_file(
            store, args.layer, args.file, settings=_settings(args), loaded_by=args.user,
            on_progress=_progress(f"loading {args.layer}"), options=options,
        )  # fmt: skip
    except LayerValidationError as exc:
        if args.problems:
            write_problems(exc.problems, args.problems)
            print(f"{len(exc.problems)} problem(s) written to {args.problems}", file=sys.stderr)
        raise
    print(f"{args.layer}: version {version.version}, {version.feature_count:,} features from {args.file}")
    return 0


def _print_plan(plan: Any) -> None:
    counts = plan.summary()
    whose = (
        f" (entries of {', '.join(d or '(no department)' for d in plan.departments)})"
        if plan.departments
        else ""
    )
    print(
        f"dry run, nothing loaded: {plan.layer}{whose}: {counts['added']} added, "
        f"{counts['removed']} removed, {counts['changed']} changed; "
        f"{len(plan.features):,} features after the load"
    )
    for e in plan.entries:
        what = f" ({', '.join(e.fields)})" if e.fields else ""
        print(f"  {e.change:8} {e.id}  {e.department or ''}{what}")
    print(f"verdicts that change ({plan.premises_checked} premises nearby checked): {len(plan.verdicts)}")
    for v in plan.verdicts:
        d = v.as_dict()
        print(f"  {v.address} {v.industry}: {d['before_zh']} → {d['after_zh']} ({v.before} → {v.after})")


def cmd_records(args: argparse.Namespace) -> int:
    from siteselect.intake import read_mapping
    from siteselect.load import commit
    from siteselect.records import plan_records
    from siteselect.sheets import write_problems

    store = _store(args)
    mapping = read_mapping(args.mapping) if args.mapping else None
    try:
        plan = plan_records(
            store, args.kind, args.file, sheet=args.sheet, mapping=mapping, settings=_settings(args)
        )
    except LayerValidationError as exc:
        if args.problems:
            write_problems(exc.problems, args.problems)
        raise
    counts = plan.summary()
    print(f"{args.file}: {counts['changed']} {plan.layer} joined, {len(plan.unmatched)} record(s) unmatched")
    for problem in plan.unmatched:
        print(f"  unmatched: {problem}")
    if args.problems and plan.unmatched:
        write_problems(plan.unmatched, args.problems)
    if args.dry_run:
        print("dry run, nothing loaded")
        return 0
    version = commit(store, plan, loaded_by=args.user)
    print(f"{plan.layer}: version {version.version}")
    return 0


def cmd_revert(args: argparse.Namespace) -> int:
    from siteselect.stewardship import restore_version

    store = _store(args)
    version = restore_version(store, args.layer, args.version, who=args.user, why=args.why)
    print(f"{args.layer}: version {args.version} is current again as version {version.version}")
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

    if args.layer == "vacancies" and args.version is None:  # the live listings, as every reader sees them
        gdf = _snapshot(args).layer("vacancies").features
    else:
        gdf = _store(args).read_layer(args.layer, version=args.version)
    write_layer_file(gdf, args.file, coordsys=args.coordsys)
    print(f"{args.layer}: {len(gdf):,} features written to {args.file} ({args.coordsys})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from siteselect import city
    from siteselect.demo import LOAD_ORDER, write_demo
    from siteselect.io import read_layer_file
    from siteselect.load import load_file

    settings = _settings(args)
    if args.city:  # the districts lie beyond Laoshan's extent: load and serve with theirs
        started = time.perf_counter()
        files = city.write_city(args.out, args.city)
        box = city.extent({"districts": read_layer_file(files["districts"])})
        settings = settings.model_copy(update={"extent": box})
        print(
            f"a city of {args.city} districts written to {args.out} in {time.perf_counter() - started:.1f} s"
        )
        print(f"serve it with SITESELECT_EXTENT='{json.dumps(list(box))}'")
    else:
        files = write_demo(args.out)
        print(f"demo files written to {args.out}")
    if args.no_load:
        return 0
    store = _store(args)
    for layer in LOAD_ORDER:
        version = load_file(store, layer, files[layer], settings=settings, loaded_by="demo")
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
    from siteselect.locating import gazetteer_for

    match = gazetteer_for(_snapshot(args)).resolve(args.text)
    print(json.dumps(match.as_dict(), ensure_ascii=False, indent=2))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from siteselect.check import checker_for
    from siteselect.premises import Premises

    checker = checker_for(_snapshot(args))
    if args.file is not None:
        return _check_file(checker, args)
    premises = Premises.parse(
        industry=args.industry, address=args.address, lon=args.lon, lat=args.lat,
        coordsys=args.coordsys, floor=args.floor, as_of=args.as_of, vacancy_id=args.vacancy,
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
        for cited in reason.get("citations", []):
            if cited["text"]:
                lines.append(f"      「{cited['text']}」（{cited['label']}）")
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

    from siteselect.premises import Premises

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
    from siteselect.index import Catalog

    request = report.ReportRequest(
        industry=industry.resolve(args.industry),
        sites=tuple(_site(text) for text in args.site),
        weights=dict(_pair(w) for w in args.weight) if args.weight else None,
        as_of=_as_of(args.as_of),
        filing=report.Filing(args.application_no, args.applicant, args.clerk),
    )
    store, settings = _store(args), _settings(args)
    catalog, basemap = Catalog(store, settings), Basemap.from_settings(settings)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    made = report.build(catalog.current(), request, basemap, now)
    report.save(store, made, request, now)
    page = report.page_of(store, made.id, catalog.snapshot, basemap)  # asked before: the page made then
    out = args.out or Path(f"report-{made.id}.html")
    out.write_text(page, encoding="utf-8")
    print(f"report {made.id}: {', '.join(made.verdicts)} -> {out} (stored: /reports/{made.id})")
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
    from siteselect import batch

    snapshot = _snapshot(args)
    client = batch.connect(args.scheduler) if args.scheduler else None
    try:
        manifest = batch.run(snapshot, args.files, args.out, client=client, on_bad=args.on_bad, csv=args.csv)
    finally:
        if client is not None:
            client.close()
    for problem in manifest["problems"]:
        print(f"skipped: {problem}", file=sys.stderr)
    print(f"{manifest['rows']:,} candidates checked and scored in {manifest['seconds']:.1f} s → {args.out}"
          f" ({manifest['skipped']} bad rows skipped)")  # fmt: skip
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    from siteselect import accounts

    store = _store(args)
    if args.action == "add":
        user = accounts.add_user(store, args.name, args.role, args.park, department=args.department)
        print(
            f"user {user.name}: {user.role}"
            + (f", parks {', '.join(user.parks)}" if user.parks else "")
            + (f", department {user.department}" if user.department else "")
        )
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


def cmd_db(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from siteselect import migrations

    url = _settings(args).database_url
    if args.action == "upgrade":
        before, after = migrations.upgrade(url, args.revision)
        print(f"schema: {before or 'none'} -> {after}" if before != after else f"schema: at {after} already")
        return 0
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            revision = migrations.current(conn)
    finally:
        engine.dispose()
    head = migrations.head()
    state = "up to date" if revision == head else f"run `{migrations.UPGRADE}` to reach {head}"
    print(f"schema: {revision or 'none'} ({state})")
    return 0 if revision == head else 1


def cmd_backup(args: argparse.Namespace) -> int:
    from siteselect.backup import backup

    backup(_settings(args).database_url, args.file)
    print(f"backup written to {args.file} ({args.file.stat().st_size:,} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from siteselect.backup import restore

    revision = restore(_settings(args).database_url, args.file)
    print(f"{args.file} restored (schema revision {revision})")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from siteselect.settings import check_env_file

    settings = check_env_file(args.file)
    for name, value in settings.model_dump().items():
        print(f"SITESELECT_{name.upper()}={_safe(name, value)}")
    print(f"{args.file}: every setting is valid")
    return 0


def _safe(name: str, value: Any) -> str:
    """A setting as printed: a database password never is."""
    if name == "database_url":
        import sqlalchemy as sa

        return sa.engine.make_url(value).render_as_string(hide_password=True)
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def cmd_serve(args: argparse.Namespace) -> int:
    import os
    import shutil
    import tempfile

    import uvicorn

    from siteselect import logs

    if args.database_url:
        os.environ["SITESELECT_DATABASE_URL"] = args.database_url
    _settings(args)  # a bad setting stops here, with its name, before any worker starts
    # Metrics are counted per worker and gathered from files in one folder, emptied at each start
    # (one per port, so that stopped services leave one folder behind, not one a start).
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        folder = Path(tempfile.gettempdir()) / f"siteselect-metrics-{args.port}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    uvicorn.run(
        "api.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
        log_config=logs.config(), access_log=False,  # one JSON line a request, from the service itself
        proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
        # A worker indexing a city's layers (at start-up, or a new version in the background) holds
        # the GIL for seconds at a time and cannot answer uvicorn's health pings meanwhile: with
        # the default 5 s, uvicorn took such workers for hung and restarted them, over and over.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )  # fmt: skip
    return 0


WORKER_HEALTHCHECK_S = 120


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siteselect", description=__doc__)
    parser.add_argument("--database-url", help="store URL (default: $SITESELECT_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("load", help="load a layer file as a new version")
    p.add_argument("layer")
    p.add_argument("file", type=Path)
    p.add_argument("--coordsys", choices=COORDSYS, default="wgs84")
    p.add_argument("--user", help="who loads it (recorded with the version)")
    p.add_argument("--sheet", help="the workbook's sheet, by name (default: the first)")
    p.add_argument("--mapping", type=Path, help="a YAML file of 'header: field' lines")
    p.add_argument("--department", help="whose entries of a shared layer this file replaces")
    p.add_argument("--replace-all", action="store_true", help="replace every department's entries (admins)")
    p.add_argument("--min-level", default="building", choices=["house_number", "building", "road", "street"],
                   help="the least match level an address without coordinates may be placed at")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="show what the load would change; load nothing")
    p.add_argument("--problems", type=Path, help="write the problems, if any, to this .xlsx")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("records", help="join a table of records to the features they name")
    p.add_argument("kind", choices=["acceptance", "certificates"])
    p.add_argument("file", type=Path)
    p.add_argument("--sheet", help="the workbook's sheet, by name (default: the first)")
    p.add_argument("--mapping", type=Path, help="a YAML file of 'header: field' lines")
    p.add_argument("--user", help="who loads it (recorded with the version)")
    p.add_argument("--dry-run", action="store_true", help="show the join; load nothing")
    p.add_argument("--problems", type=Path, help="write the problems or unmatched records to this .xlsx")
    p.set_defaults(func=cmd_records)

    p = sub.add_parser("revert", help="make an earlier version of a layer current again")
    p.add_argument("layer")
    p.add_argument("version", type=int)
    p.add_argument("--why", required=True, help="why (recorded with the new version)")
    p.add_argument("--user", help="who does it (recorded with the new version)")
    p.set_defaults(func=cmd_revert)

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
    p.add_argument(
        "--city", type=int, default=0, metavar="N",
        help="a city: N demo-like districts side by side (1-10), each with names and codes of its own",
    )  # fmt: skip
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
    where.add_argument("--vacancy", help="a listed vacancy's id")
    where.add_argument(
        "--file",
        type=Path,
        help="CSV: industry, address, lon/lat or vacancy_id, [coordsys, floor, as_of, ref]",
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
    p.add_argument("--application-no", help="the application the report is filed with")
    p.add_argument("--applicant", help="the applicant's name")
    p.add_argument("--clerk", help="the clerk's name")
    p.add_argument("--out", type=Path, help="HTML file (default: report-<id>.html)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("batch", help="check and score every candidate of files, here or on a Dask cluster")
    p.add_argument(
        "files", type=Path, nargs="+",
        help="CSV, Parquet or GeoParquet files, or folders of them (ref, industry, lon, lat[, floor])",
    )  # fmt: skip
    p.add_argument(
        "--out", type=Path, required=True, help="results folder: Parquet parts, _SUCCESS written last"
    )
    p.add_argument("--csv", type=Path, help="also one CSV of every result")
    p.add_argument("--scheduler", help="tcp://host:port of a Dask scheduler (default: this process)")
    p.add_argument(
        "--on-bad", choices=["skip", "refuse"], default="skip", help="bad rows: skip them or run nothing"
    )
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("users", help="add or list users (admin, clerk, steward, operator), or set a password")
    users_sub = p.add_subparsers(dest="action", required=True)
    q = users_sub.add_parser("add")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=["admin", "clerk", "operator", "steward"])
    q.add_argument("--park", action="append", default=[], help="an operator's park id; repeat for several")
    q.add_argument("--department", help="a data steward's department (a code of layers/departments.yaml)")
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

    p = sub.add_parser("db", help="the store's schema: its revision, or upgrade it to this release's")
    db_sub = p.add_subparsers(dest="action", required=True)
    q = db_sub.add_parser("upgrade", help="apply the migrations the store lacks, all or none")
    q.add_argument("revision", nargs="?", default="head", help="where to stop (default: the latest)")
    db_sub.add_parser("current", help="the store's revision (exit status 1 if it is behind)")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("backup", help="write a consistent copy of the whole store to FILE")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="load a backup FILE into an empty database")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("config", help="check the settings of an environment file")
    config_sub = p.add_subparsers(dest="action", required=True)
    q = config_sub.add_parser("check", help="every SITESELECT_ setting of FILE valid and known")
    q.add_argument("file", type=Path)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("serve", help="run the HTTP service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--forwarded-allow-ips", default="127.0.0.1",
        help="proxies whose X-Forwarded-For names the client (default: one on this machine)",
    )  # fmt: skip
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
