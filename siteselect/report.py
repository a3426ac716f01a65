"""Map reports that go with a registration file: one site, or two to five side by side.

A report holds a folium map (the premises, its building, the buffers of the distance rules that
apply, restriction zones, prohibited addresses, amenities by category and same-industry
businesses), the verdict table citing the legal basis of every rule checked, the address-proof
position and the score breakdown with a small chart. It is one self-contained HTML file: Leaflet is
embedded, so it opens on a closed intranet and prints on A4.

The report id is a digest of the request (its filing included), the layer versions and the as-of
date: the same inputs give the same id and the same bytes (only the generation time, which is
stored with the request, is not part of the id). Elements of the map are numbered in order rather
than given random ids. A report is stored with the page as drawn, which is what is read back.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import hashlib
import html
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import jinja2
import numpy as np
import orjson
import shapely
import sqlalchemy as sa
from branca.element import Element, Figure
from numpy.typing import NDArray

from siteselect import __version__, assets, industry, law, scoring
from siteselect.accounts import plain_text
from siteselect.check import checker_for
from siteselect.drawing import BASE_STYLES, VERDICT_COLOURS, Basemap, base_layers, feature_collection, near
from siteselect.errors import InvalidInputError, NotFoundError
from siteselect.index import Snapshot
from siteselect.labels import both, en, zh
from siteselect.match import Constraints, assess_sites
from siteselect.premises import today
from siteselect.rule_kinds import KINDS
from siteselect.store import Store

VIEW_M = 600.0  # what a site's map shows around it
MAP_HEIGHT_PX = 380  # 680 × 380 px: 180 × 100 mm on A4, the same on screen as on paper
BUFFER_SEGMENTS = 8  # a quarter circle of a rule buffer in this many segments

ZONE_COLOUR = "#9c27b0"
BUFFER_COLOUR = "#e53935"
CATEGORY_COLOURS = {
    "metro": "#1565c0", "bus": "#1e88e5", "parking": "#546e7a", "dining": "#fb8c00", "retail": "#8e24aa",
    "bank": "#00897b", "hotel": "#6d4c41", "office": "#3949ab", "residential": "#7cb342", "school": "#fdd835",
    "hospital": "#d81b60", "park": "#43a047", "business": "#757575",
}  # fmt: skip
PRINT_SCRIPT = (Path(__file__).parent / "templates" / "report_print.js").read_text(encoding="utf-8")
SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
FILING_MAX = 100  # characters of each field of a filing


@dataclass(frozen=True)
class Filing:
    """What ties a report to an application, each part optional: the application's number, the
    applicant's name and the clerk's. Blank parts are none; control characters are refused."""

    application_no: str | None = None
    applicant: str | None = None
    clerk: str | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None:
                text = plain_text(f"filing.{field.name}", value, FILING_MAX).strip()
                object.__setattr__(self, field.name, text or None)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def signed_by(self, clerk: str) -> Filing:
        """The filing with ``clerk`` as its clerk, unless one is named already."""
        return self if self.clerk else dataclasses.replace(self, clerk=clerk)


@dataclass(frozen=True)
class ReportRequest:
    """What a report is about: an industry and 1 to 5 sites (vacancy id, address, or lon/lat)."""

    industry: str
    sites: tuple[dict[str, Any], ...]
    weights: dict[str, float] | None = None
    constraints: Constraints = dataclasses.field(default_factory=Constraints)
    as_of: dt.date | None = None
    filing: Filing = dataclasses.field(default_factory=Filing)

    def __post_init__(self) -> None:
        if not 1 <= len(self.sites) <= 5:
            raise InvalidInputError(f"sites: a report covers 1 to 5 sites, got {len(self.sites)}")
        object.__setattr__(self, "industry", industry.normalize_code(self.industry))
        plain = ({k: v.item() if isinstance(v, np.generic) else v for k, v in s.items()} for s in self.sites)
        object.__setattr__(self, "sites", tuple(plain))  # stored and hashed as JSON

    def as_dict(self) -> dict[str, Any]:
        """The request as plain JSON values, the form it is stored and hashed in. What came later is
        left out when unused (a filing, a park filter), so the ids of reports stored before hold."""
        constraints = dataclasses.asdict(self.constraints)
        if not constraints["parks"]:
            del constraints["parks"]
        plain = {
            "industry": self.industry,
            "sites": [{k: v for k, v in site.items() if v is not None} for site in self.sites],
            "weights": self.weights,
            "constraints": constraints,
            "as_of": self.as_of.isoformat() if self.as_of else None,
        }
        filing = self.filing.as_dict()
        return plain | {"filing": filing} if filing else plain

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReportRequest:
        wanted = dict(data.get("constraints") or {})
        for name in ("streets", "uses", "parks"):
            wanted[name] = tuple(wanted.get(name) or ())
        return cls(
            industry=data["industry"],
            sites=tuple(data["sites"]),
            weights=data.get("weights"),
            constraints=Constraints(**wanted),
            as_of=dt.date.fromisoformat(data["as_of"]) if data.get("as_of") else None,
            filing=Filing(**data.get("filing", {})),
        )


@dataclass(frozen=True)
class Report:
    id: str
    html: str
    as_of: dt.date
    layer_versions: dict[str, int]
    verdicts: tuple[str, ...]  # of the sites, in order
    addresses: tuple[str, ...]  # of the sites, in order: as located, else the vacancy's id


def report_id(request: ReportRequest, versions: dict[str, int], as_of: dt.date, basemap: Basemap) -> str:
    """The same request over the same layer versions on the same day has the same id."""
    key = {
        "request": request.as_dict() | {"as_of": as_of.isoformat()},
        "versions": versions,
        "basemap": dataclasses.asdict(basemap),
        "format": __version__,
    }
    return hashlib.sha256(orjson.dumps(key, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


def build(
    snapshot: Snapshot,
    request: ReportRequest,
    basemap: Basemap | None = None,
    generated_at: dt.datetime | None = None,
) -> Report:
    """Check and score the sites of ``request`` and draw the report; bad input raises InvalidInputError."""
    basemap = basemap or Basemap()
    as_of = request.as_of or today()
    result, checks = assess_sites(
        snapshot, request.industry, list(request.sites), request.weights, request.constraints, as_of
    )
    rid = report_id(request, snapshot.versions, as_of, basemap)
    fmap = _draw(snapshot, request.industry, as_of, result["sites"], checks, basemap)
    parts = _map_parts(fmap)
    generated = (generated_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    page = _template().render(
        id=rid,
        as_of=as_of.isoformat(),
        generated=generated.isoformat().replace("+00:00", "Z"),
        industry=result["industry"],
        filing=request.filing,
        weights=result["weights"],
        sites=[_site_view(snapshot, s, c) for s, c in zip(result["sites"], checks)],
        versions=snapshot.versions,
        criteria=scoring.CRITERIA,
        map=parts,
        print_script=PRINT_SCRIPT,
        leaflet_js=assets.leaflet_js(),
        leaflet_css=assets.leaflet_css(),
        attribution=basemap.attribution,
        zh=zh,
        en=en,
        colours=VERDICT_COLOURS,
    )
    verdicts = tuple(s["verdict"] for s in result["sites"])
    addresses = tuple(s["address"] or s["id"] for s in result["sites"])
    return Report(rid, page, as_of, snapshot.versions, verdicts, addresses)


def script_hashes(page: str) -> tuple[str, ...]:
    """The Content-Security-Policy sources that let exactly the page's own inline scripts run
    (Leaflet, the map and the print button; the map's script can hold no ``</script>``)."""
    return tuple(map(script_hash, SCRIPT.findall(page)))


def script_hash(script: str) -> str:
    """The Content-Security-Policy source that lets exactly this inline script run."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return f"'sha256-{digest}'"


# ---- stored reports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredReport:
    request: ReportRequest
    versions: dict[str, int]
    as_of: dt.date
    generated_at: dt.datetime
    html: str | None  # the page as drawn; none for a report stored before pages were kept

    def on_the_day(self) -> ReportRequest:
        """The request judged on the day it was first made."""
        return dataclasses.replace(self.request, as_of=self.as_of)


def save(store: Store, report: Report, request: ReportRequest, generated_at: dt.datetime) -> StoredReport:
    """Keep a report under its id: its request, its page as drawn and what the register searches
    by. A report asked for again keeps its first page and generation time."""
    row = {
        "id": report.id, "request": request.as_dict(), "versions": report.layer_versions,
        "as_of": report.as_of, "generated_at": generated_at, "html": report.html,
        "verdicts": list(report.verdicts), "industry": request.industry,
        "addresses": "\n".join(report.addresses), **request.filing.as_dict(),
    }  # fmt: skip
    try:
        with store.engine.begin() as conn:
            conn.execute(store.reports.insert().values(**row))
    except sa.exc.IntegrityError:
        pass  # the same request, stored already (perhaps a moment ago by another worker)
    return load(store, report.id)


def load(store: Store, rid: str) -> StoredReport:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(store.reports).where(store.reports.c.id == rid)).first()
    if row is None:
        raise NotFoundError(f"report {rid!r} does not exist")
    generated = row.generated_at if row.generated_at.tzinfo else row.generated_at.replace(tzinfo=dt.UTC)
    return StoredReport(
        ReportRequest.from_dict(row.request), dict(row.versions), row.as_of, generated, row.html
    )


def page_of(
    store: Store, rid: str, snapshot_of: Callable[[dict[str, int]], Snapshot], basemap: Basemap
) -> str:
    """The page of a stored report as it was drawn; one stored before pages were kept is drawn
    again from its request, on the layer versions and the day it names (``snapshot_of`` gives
    the snapshot of those versions)."""
    stored = load(store, rid)
    if stored.html is not None:
        return stored.html
    return build(snapshot_of(stored.versions), stored.on_the_day(), basemap, stored.generated_at).html


# ---- the page -----------------------------------------------------------------------------------


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # names come from department files
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html")


def _site_view(snapshot: Snapshot, site: dict[str, Any], check: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of one site: its comparison entry, its full check, and every rule checked
    with the legal basis it cites."""
    rules = {r["id"]: r for r in checker_for(snapshot).rules}
    findings = {r["id"]: r for r in check["reasons"]}
    checked = [
        {
            "id": c["id"], "title": c["title"], "outcome": c["outcome"],
            **law.finding_fields(rules[c["id"]]), "finding": findings.get(c["id"]),
        }
        for c in check["checked"]
    ]  # fmt: skip
    other = [r for r in check["reasons"] if r["id"] not in rules]  # prohibited-list entries, location
    return site | {"check": check, "checked": checked, "other_findings": other}


def _map_parts(fmap: folium.Map) -> dict[str, str]:
    """The map's styles, element and script, for the report's own page (the header is folium's
    own markup, with no data in it; the data is in the script)."""
    figure = fmap.get_root()
    assert isinstance(figure, Figure)
    _number(figure)
    for child in figure._children.values():  # what Figure.render does before its own page
        child.render()
    script = figure.script.render()
    return {
        "header": figure.header.render(),
        "html": figure.html.render(),
        # Names in the data may hold "</script>": never let them end the script early.
        "script": script.replace("</", "<\\/"),
    }


def _number(root: Element) -> None:
    """Give every element an id by its place in the tree, not a random one: same input, same bytes."""
    counter = itertools.count()

    def walk(element: Element) -> None:
        element._id = f"{next(counter):04d}"
        for child in element._children.values():
            walk(child)

    walk(root)


# ---- the map ------------------------------------------------------------------------------------


class _OfflineMap(folium.Map):
    """A folium map that links no CDN: the report embeds Leaflet itself, and draws only vectors
    (circle markers, no icon images), so it needs nothing else."""

    default_js = []  # noqa: RUF012 (folium's own class attribute, emptied)
    default_css = []  # noqa: RUF012


@dataclass
class _Drawing:
    """The map being drawn and how to turn local geometries into its GeoJSON."""

    snapshot: Snapshot
    basemap: Basemap
    fmap: folium.Map

    def layer(
        self,
        name: str,
        geoms: Iterable[Any],
        props: list[dict[str, Any]],
        style: dict[str, Any],
        *,
        local: bool = True,
        show: bool = True,
    ) -> None:
        if not props:
            return
        # Leaflet's layer control and folium's tooltips set what they show as HTML: names from
        # department files and from users go in escaped, and show as written.
        group = folium.FeatureGroup(name=html.escape(name), show=show)
        fields = [k for k in ("name", "note") if k in props[0]]
        shown: list[dict[str, Any]] = [{k: html.escape(str(p[k])) for k in fields} for p in props]
        folium.GeoJson(
            feature_collection(self.snapshot, geoms, shown, self.basemap, local=local),
            style_function=_constant(style),
            marker=folium.CircleMarker(radius=style.get("radius", 4), fill=True),
            tooltip=folium.GeoJsonTooltip(fields=fields, labels=False) if fields else None,
        ).add_to(group)
        group.add_to(self.fmap)


def _constant(style: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    return lambda _feature: style


def _draw(
    snapshot: Snapshot,
    code: str,
    as_of: dt.date,
    sites: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    basemap: Basemap,
) -> folium.Map:
    lon = np.array([s["lon"] for s in sites])
    lat = np.array([s["lat"] for s in sites])
    here = snapshot.frame.points(lon, lat)
    view = shapely.union_all(shapely.buffer(here, VIEW_M))
    fmap = _OfflineMap(
        location=[float(lat.mean()), float(lon.mean())], zoom_start=16, tiles=None, control_scale=True,
        height=MAP_HEIGHT_PX, prefer_canvas=True,
    )  # fmt: skip
    drawing = _Drawing(snapshot, basemap, fmap)
    if basemap.tiles:
        folium.TileLayer(basemap.tiles, attr=basemap.attribution or " ", name="底图 base map").add_to(fmap)
    _draw_base(drawing, view)
    districts = sorted({c["location"]["district"] for c in checks if "location" in c})
    _draw_zones(drawing, view, code, as_of, districts)
    _draw_prohibited(drawing, view)
    _draw_pois(drawing, here, code)
    _draw_sites(drawing, sites, checks)
    folium.LayerControl(collapsed=True).add_to(fmap)
    minx, miny, maxx, maxy = snapshot.frame.to_wgs84([view])[0].bounds
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    return fmap


def _draw_base(d: _Drawing, view: shapely.Geometry) -> None:
    for key, (geoms, props) in base_layers(d.snapshot, view).items():
        name, style = BASE_STYLES[key]
        d.layer(name, geoms, props, style)


def _draw_zones(d: _Drawing, view: shapely.Geometry, code: str, as_of: dt.date, districts: list[str]) -> None:
    """Restriction zones in view, and around the zones of each distance rule that applies in the
    sites' districts, its buffer."""
    snap = d.snapshot
    if not snap.has("zones"):
        return
    zones = snap.layer("zones")
    kinds = zones.features["kind"].to_numpy()
    names = zones.features["name"].to_numpy()
    rows = near(snap, "zones", view)
    props = [{"name": f"{names[r]}（{both('zone_kinds', kinds[r])}）"} for r in rows]
    style = {"color": ZONE_COLOUR, "weight": 1, "fillColor": ZONE_COLOUR, "fillOpacity": 0.15}
    d.layer("限制区域 restriction zones", zones.local[rows], props, style)
    checker = checker_for(snap)
    applying = {r["id"]: r for district in districts for r in checker.rules_for(code, as_of, district)}
    for rule in applying.values():
        meters = KINDS[rule["kind"]].radius_m(rule["params"])
        if not meters:  # no distance to draw: a containment or a building rule
            continue
        # Every buffer that reaches the map, not only those the site is in: a permitted site shows
        # how far outside it lies.
        rows = np.flatnonzero(
            np.isin(kinds, rule["params"]["zone_kinds"]) & shapely.dwithin(zones.local, view, meters)
        )
        rings = shapely.buffer(zones.local[rows], meters, quad_segs=BUFFER_SEGMENTS)
        note = f"{rule['id']} {rule['title']}：{meters:g}米 / {meters:g} m"
        props = [{"name": str(names[r]), "note": note} for r in rows]
        style = {"color": BUFFER_COLOUR, "weight": 2, "dashArray": "8 6", "fillColor": BUFFER_COLOUR,
                 "fillOpacity": 0.08}  # fmt: skip
        d.layer(f"{meters:g}米缓冲区 {meters:g} m buffer · {rule['id']}", rings, props, style)


def _draw_prohibited(d: _Drawing, view: shapely.Geometry) -> None:
    """The prohibited-list entries in view."""
    snap = d.snapshot
    if not snap.has("prohibited_addresses"):
        return
    entries = snap.layer("prohibited_addresses")
    rows = near(snap, "prohibited_addresses", view)
    feats = entries.features.iloc[rows]
    props = [{"name": f"{a}：{r}"} for a, r in zip(feats["address"], feats["reason"])]
    style = {"color": "#000000", "weight": 2, "fillColor": "#c62828", "fillOpacity": 0.7, "radius": 5}
    d.layer("禁设地址 prohibited addresses", entries.planar(rows), props, style)


def _draw_pois(d: _Drawing, here: NDArray[np.object_], code: str) -> None:
    """Amenities by category and same-industry businesses within walking distance."""
    snap = d.snapshot
    if not snap.has("pois"):
        return
    pois = snap.layer("pois")
    walk = shapely.union_all(shapely.buffer(here, float(scoring.config()["walking_m"])))
    rows = near(snap, "pois", walk)
    category = pois.features["category"].to_numpy()[rows]
    codes = pois.features["industry"].iloc[rows].fillna("").to_numpy(dtype=str)  # the rows near, not a city's
    names = pois.features["name"].to_numpy()[rows]
    same = np.char.startswith(codes, code[:2])  # the same division, as the scores count it
    for cat in CATEGORY_COLOURS:
        pick = (category == cat) & ~same
        colour = CATEGORY_COLOURS[cat]
        props = [{"name": str(n)} for n in names[pick]]
        style = {"color": colour, "weight": 1, "fillColor": colour, "fillOpacity": 0.8, "radius": 4}
        d.layer(both("poi_categories", cat), pois.planar(rows[pick]), props, style)
    props = [{"name": f"{n}（{c}）"} for n, c in zip(names[same], codes[same])]
    style = {"color": "#000000", "weight": 2, "fillColor": "#ffeb3b", "fillOpacity": 1.0, "radius": 5}
    d.layer("同业商户 same-industry businesses", pois.planar(rows[same]), props, style)


def _draw_sites(d: _Drawing, sites: list[dict[str, Any]], checks: list[dict[str, Any]]) -> None:
    """Each site, coloured by its verdict, and the building it is in."""
    snap = d.snapshot
    if snap.has("buildings"):
        buildings = snap.layer("buildings")
        row_of = {b: i for i, b in enumerate(buildings.features["id"].tolist())}
        found = [(c["building"]["id"], c["building"]["name"]) for c in checks if c.get("building")]
        rows = [row_of[b] for b, _ in found]
        style = {"color": "#0d47a1", "weight": 3, "fillColor": "#90caf9", "fillOpacity": 0.5}
        d.layer("所在建筑 the building", buildings.local[rows], [{"name": n} for _, n in found], style)
    points = [shapely.Point(s["lon"], s["lat"]) for s in sites]
    for n, (site, point) in enumerate(zip(sites, points), start=1):
        colour = VERDICT_COLOURS[site["verdict"]]
        label = f"{n}. {site['address'] or site['id']}：{both('verdicts', site['verdict'])}"
        style = {"color": "#000000", "weight": 2, "fillColor": colour, "fillOpacity": 1.0, "radius": 9}
        d.layer(f"场所{n} site {n}", [point], [{"name": label}], style, local=False)
