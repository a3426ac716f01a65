"""The ``siteselect`` command line: load, list, export layers; build the demo; serve the API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

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
