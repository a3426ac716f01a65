"""A page of a layer's features that meet a filter, read from the store (OGC API items).

The filter (CQL2 JSON, see ``siteselect.filters``) becomes one SQL condition over the version's
stored features — their properties in JSON, their geometry — or, for the current vacancies, over
the operators' live listings; the store answers the page and the count. The same request gives
the same features on SQLite and on PostGIS.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import sqlalchemy as sa

from siteselect import listings
from siteselect.crs import CRS84, SUPPORTED, Crs
from siteselect.filters import Source, queryables, to_sql
from siteselect.grid import Cells
from siteselect.spatial_sql import Spatial, box_prefilter, cells_prefilter, envelope_prefilter
from siteselect.specs import get_spec
from siteselect.store import LayerVersion, Store


def read_items(
    store: Store,
    layer: str,
    *,
    cql: dict[str, Any] | None = None,
    as_of: dt.datetime | None = None,
    filter_crs: Crs = SUPPORTED[CRS84],
    offset: int = 0,
    limit: int = 100,
    version: LayerVersion | None = None,
) -> tuple[gpd.GeoDataFrame, int]:
    """The features of ``layer`` (as loaded by ``as_of``, or now, or of ``version``) meeting
    ``cql``, from ``offset``, at most ``limit``; and how many meet it."""
    get_spec(layer)
    if layer == "vacancies" and as_of is None and version is None:
        source = _listings_source(store, filter_crs)
        where = None if cql is None else to_sql(cql, source)
        return listings.select_page(store, where, offset=offset, limit=limit)
    version = version or store.resolve_version(layer, as_of=as_of)
    f, c = store.t["features"], store.t["cells"]

    def sharing_cells(cells: Cells) -> sa.ColumnElement[bool]:
        hit = sa.select(c.c.fid).where(c.c.version_id == version.id, c.c.cell.in_(cells.tolist()))
        return f.c.fid.in_(hit)

    spatial = None
    if get_spec(layer).has_geometry:
        prefilter = (
            envelope_prefilter(f.c.geom)
            if store.postgis
            else cells_prefilter(sharing_cells, version.h3_resolution)
        )
        spatial = Spatial(store.postgis, f.c.geom, prefilter, filter_crs)
    # a layer version's stamps are its file's dates
    kinds = {"updated_at": "date"} if layer == "vacancies" else {}
    source = Source(layer, columns_of(layer, f.c.props, {"id": f.c.fid}), spatial, kinds)
    where = None if cql is None else to_sql(cql, source)
    return store.select_features(version, where, offset=offset, limit=limit)


def _listings_source(store: Store, filter_crs: Crs) -> Source:
    t = store.accounts["listings"]
    if store.postgis:
        point = sa.func.ST_SetSRID(sa.func.ST_MakePoint(t.c.lon, t.c.lat), 4326)
    else:
        point = sa.func.siteselect_point(t.c.lon, t.c.lat)
    spatial = Spatial(store.postgis, point, box_prefilter(t.c.lon, t.c.lat), filter_crs)
    own = {"id": t.c.id, "park_id": t.c.park_id, "updated_at": t.c.updated_at}
    return Source("vacancies", columns_of("vacancies", t.c.props, own), spatial)


def columns_of(
    layer: str, props: sa.ColumnElement[Any], own: Mapping[str, sa.ColumnElement[Any]]
) -> dict[str, sa.ColumnElement[Any]]:
    """Each queryable's SQL expression: a column of the table, or its value in the JSON
    properties, typed as the queryable compares (text, number, boolean)."""
    out = dict(own)
    for name, q in queryables(layer).items():
        if name in out:
            continue
        value = props[name]
        if q.kind in ("integer", "number"):
            out[name] = value.as_float()
        elif q.kind == "boolean":
            out[name] = value.as_boolean()
        else:
            out[name] = value.as_string()
    return out
