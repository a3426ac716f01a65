"""The store: versioned layers in SQLite (the default) or PostGIS, through SQLAlchemy and GeoAlchemy2.

One schema serves both backends. Every load writes a new version of the whole layer in one
transaction: a row in ``layer_versions``, the features (geometry, attributes as JSON) and their H3
cells as ``bigint``. Earlier versions stay, so any check can be reproduced as of a version or a date.
On PostGIS the geometry column is typed (SRID 4326, GiST index) and bulk rows go in with COPY; on
SQLite the geometry is WKB in a BLOB and needs no extension.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

from siteselect import security
from siteselect.errors import NotFoundError, StaleWriteError, StoreError
from siteselect.grid import geometries_cells
from siteselect.specs import get_spec

CHUNK = 50_000
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class LayerVersion:
    """One load of one layer."""

    id: int
    layer: str
    version: int
    loaded_at: dt.datetime
    loaded_by: str
    source: str
    feature_count: int
    checksum: str
    h3_resolution: int


def _tables(metadata: sa.MetaData, postgis: bool) -> dict[str, sa.Table]:
    geometry: sa.types.TypeEngine[Any]
    if postgis:
        geometry = Geometry("GEOMETRY", srid=4326, spatial_index=True)
        props: sa.types.TypeEngine[Any] = JSONB()
    else:
        geometry, props = sa.LargeBinary(), sa.JSON()
    versions = sa.Table(
        "layer_versions",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("layer", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(200), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("feature_count", sa.Integer, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("h3_resolution", sa.SmallInteger, nullable=False),
        sa.UniqueConstraint("layer", "version"),
    )
    # On PostGIS each version is a partition: a load fills a bare table and attaches it, so the
    # indexes are built in bulk (sorted GiST build) instead of row by row.
    partitioned: dict[str, Any] = {"postgresql_partition_by": "LIST (version_id)"} if postgis else {}
    features = sa.Table(
        "features",
        metadata,
        sa.Column("version_id", sa.ForeignKey("layer_versions.id"), primary_key=True),
        sa.Column("fid", sa.String(200), primary_key=True),
        sa.Column("geom", geometry, nullable=True),
        sa.Column("props", props, nullable=False),
        **partitioned,
    )
    cells = sa.Table(
        "feature_cells",
        metadata,
        sa.Column("version_id", sa.ForeignKey("layer_versions.id"), nullable=False),
        sa.Column("fid", sa.String(200), nullable=False),
        sa.Column("cell", sa.BigInteger, nullable=False),
        sa.Index("ix_feature_cells_version_cell", "version_id", "cell"),
        **partitioned,
    )
    return {"versions": versions, "features": features, "cells": cells}


def _account_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Who may write: users with a role (operators bound to parks) and their hashed tokens."""
    users = sa.Table(
        "users",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("parks", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),  # Argon2; none: tokens only
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    )
    tokens = sa.Table(
        "tokens",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    # People's sign-ins: a session is stored as the SHA-256 of its cookie, with the CSRF token its
    # pages send back; wrong passwords are counted per name, known or not.
    sessions = sa.Table(
        "sessions",
        metadata,
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    throttle = sa.Table(
        "sign_in_failures",
        metadata,
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    )
    # Vacancies are live listings that operators edit one by one: a mutable table with a revision
    # per row (the ETag), not new versions of the whole layer. Every write and every refusal is in
    # the audit log, written in the same transaction as the change.
    listings = sa.Table(
        "listings",
        metadata,
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("park_id", sa.String(200), nullable=True, index=True),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("props", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    audit = sa.Table(
        "audit_log",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    return {"users": users, "tokens": tokens, "sessions": sessions, "sign_in_failures": throttle,
            "listings": listings, "audit": audit}  # fmt: skip


def _report_table(metadata: sa.MetaData) -> sa.Table:
    """Reports by id: the request, the layer versions and the day they were judged by, so the same
    report can be drawn again on any worker, after newer layers are loaded too."""
    return sa.Table(
        "reports",
        metadata,
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
    )


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Store:
    """A versioned layer store over one database URL."""

    def __init__(self, url: str, *, h3_resolution: int = 9):
        self.url = url
        self.h3_resolution = h3_resolution
        self.engine = sa.create_engine(url, json_serializer=_json_text, json_deserializer=orjson.loads)
        self.postgis = self.engine.dialect.name == "postgresql"
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.metadata = sa.MetaData()
        self.t = _tables(self.metadata, self.postgis)
        self.accounts = _account_tables(self.metadata)
        self.reports = _report_table(self.metadata)
        try:
            with self.engine.begin() as conn:
                if self.postgis:
                    conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
                self.metadata.create_all(conn)
                if self.postgis:
                    security.install(conn)
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the store at {self._safe_url()}: {exc.orig}") from exc

    def _safe_url(self) -> str:
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    # ---- writing -----------------------------------------------------------------------------

    def write_layer(
        self,
        layer: str,
        gdf: gpd.GeoDataFrame,
        *,
        source: str,
        loaded_by: str | None = None,
        on_progress: Progress | None = None,
        based_on: int | None = None,
        also: Callable[[sa.Connection, LayerVersion], None] | None = None,
    ) -> LayerVersion:
        """Store validated features as a new version of ``layer``, all or nothing.

        ``based_on`` makes the write conditional: it is refused (``StaleWriteError``) unless that
        version is still the latest when it commits. ``also`` runs in the same transaction (an
        audit record)."""
        spec = get_spec(layer)
        # Rows go in id order: the checksum then depends on content only, and the primary key
        # index is appended to rather than inserted into at random.
        gdf = gdf.iloc[np.argsort(gdf["id"].astype(str).to_numpy(), kind="stable")]
        ids = gdf["id"].astype(str).to_numpy()
        props = _props_json(gdf.drop(columns=[c for c in ("id", "geometry") if c in gdf]))
        wkb: np.ndarray | None = None
        cell_pos = cells = np.empty(0, dtype=np.int64)
        if spec.has_geometry:
            geoms = gdf.geometry.to_numpy()
            wkb = shapely.to_wkb(geoms)
            cell_pos, cells = geometries_cells(geoms, self.h3_resolution)
        checksum = _checksum(ids, wkb, props)
        who = loaded_by or _whoami()
        try:
            with self.engine.begin() as conn:
                version = self._new_version(conn, layer, source, who, len(ids), checksum, based_on)
                self._insert_all(conn, version, ids, wkb, props, cell_pos, cells, on_progress)
                if also is not None:
                    also(conn, version)
        except sa.exc.IntegrityError as exc:  # two writes based on the same version: one is late
            if based_on is None:
                raise
            raise StaleWriteError(f"layer {layer} changed while this write was made") from exc
        return version

    def _insert_all(
        self,
        conn: sa.Connection,
        version: LayerVersion,
        ids: np.ndarray,
        wkb: np.ndarray | None,
        props: list[str],
        cell_pos: np.ndarray,
        cells: np.ndarray,
        on_progress: Progress | None,
    ) -> None:
        total = len(ids) + len(cells)
        done = 0
        for count in self._insert_features(conn, version.id, ids, wkb, props):
            done += count
            if on_progress:
                on_progress(done, total)
        for count in self._insert_cells(conn, version.id, ids[cell_pos], cells):
            done += count
            if on_progress:
                on_progress(done, total)

    def _new_version(
        self, conn: sa.Connection, layer: str, source: str, who: str, count: int, checksum: str,
        based_on: int | None = None,
    ) -> LayerVersion:  # fmt: skip
        v = self.t["versions"]
        self._lock_layer(conn, layer)
        latest = conn.execute(sa.select(sa.func.max(v.c.version)).where(v.c.layer == layer)).scalar() or 0
        if based_on is not None and latest != based_on:
            raise StaleWriteError(f"layer {layer} is at version {latest}, not {based_on}")
        number = latest + 1
        row: dict[str, Any] = {
            "layer": layer,
            "version": number,
            "loaded_at": _utcnow(),
            "loaded_by": who,
            "source": source,
            "feature_count": count,
            "checksum": checksum,
            "h3_resolution": self.h3_resolution,
        }
        new_id = conn.execute(v.insert().values(**row).returning(v.c.id)).scalar_one()
        return LayerVersion(id=new_id, **row)

    def _lock_layer(self, conn: sa.Connection, layer: str) -> None:
        """One new version of a layer at a time: the next writer waits, then sees this one's number
        (rather than two partitions being attached at once, which PostgreSQL calls a deadlock)."""
        if self.postgis:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"layer:{layer}"})
        else:  # a write statement takes SQLite's write lock before the version is read
            conn.exec_driver_sql("UPDATE layer_versions SET id = id WHERE 0")

    def _insert_features(
        self,
        conn: sa.Connection,
        version_id: int,
        ids: np.ndarray,
        wkb: np.ndarray | None,
        props: list[str],
    ) -> Iterator[int]:
        if self.postgis:
            hexes = (
                [None] * len(ids) if wkb is None else [w.hex() for w in wkb]
            )  # EWKB hex is what COPY's text input of geometry takes
            rows = ((version_id, i, f"SRID=4326;{h}" if h else None, p) for i, h, p in zip(ids, hexes, props))
            yield from _copy_partition(conn, "features", version_id, rows)
        else:
            blobs = [None] * len(ids) if wkb is None else list(wkb)
            sql = "INSERT INTO features (version_id, fid, geom, props) VALUES (?, ?, ?, ?)"
            rows_list = [(version_id, i, b, p) for i, b, p in zip(ids.tolist(), blobs, props)]
            yield from _executemany(conn, sql, rows_list)

    def _insert_cells(
        self, conn: sa.Connection, version_id: int, fids: np.ndarray, cells: np.ndarray
    ) -> Iterator[int]:
        order = np.argsort(cells, kind="stable")  # in index order: appends, not random inserts
        rows = [(version_id, f, c) for f, c in zip(fids[order].tolist(), cells[order].tolist())]
        if self.postgis:
            yield from _copy_partition(conn, "feature_cells", version_id, iter(rows))
        else:
            sql = "INSERT INTO feature_cells (version_id, fid, cell) VALUES (?, ?, ?)"
            yield from _executemany(conn, sql, rows)

    # ---- reading -----------------------------------------------------------------------------

    def versions(self, layer: str | None = None) -> list[LayerVersion]:
        """Every version of one layer (or of all layers), oldest first."""
        v = self.t["versions"]
        query = sa.select(v).order_by(v.c.layer, v.c.version)
        if layer is not None:
            query = query.where(v.c.layer == layer)
        with self.engine.connect() as conn:
            return [_version(r) for r in conn.execute(query).mappings()]

    def current_versions(self) -> dict[str, LayerVersion]:
        """The newest version of every layer that has one."""
        return {v.layer: v for v in self.versions()}  # sorted by version: the last one wins

    def resolve_version(
        self, layer: str, *, version: int | None = None, as_of: dt.datetime | None = None
    ) -> LayerVersion:
        """The version to read: a given number, the newest loaded by ``as_of``, or the newest."""
        get_spec(layer)
        candidates = self.versions(layer)
        if version is not None:
            candidates = [v for v in candidates if v.version == version]
        if as_of is not None:
            moment = as_of if as_of.tzinfo else as_of.replace(tzinfo=dt.UTC)
            candidates = [v for v in candidates if v.loaded_at <= moment]
        if not candidates:
            wanted = f" {version}" if version is not None else ""
            wanted += f" as of {as_of.isoformat()}" if as_of is not None else ""
            raise NotFoundError(f"layer {layer!r} has no stored version{wanted}")
        return candidates[-1]

    def read_layer(
        self,
        layer: str,
        *,
        version: int | None = None,
        as_of: dt.datetime | None = None,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> gpd.GeoDataFrame:
        """The features of one version of a layer as a GeoDataFrame (columns in spec order)."""
        spec = get_spec(layer)
        chosen = self.resolve_version(layer, version=version, as_of=as_of)
        f = self.t["features"]
        geom = sa.func.ST_AsBinary(f.c.geom) if self.postgis else f.c.geom
        query = sa.select(f.c.fid, geom.label("wkb"), f.c.props).where(f.c.version_id == chosen.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(f.c.fid)).all()
        frame = pd.DataFrame([r.props for r in rows], columns=list(spec.fields), dtype=object)
        frame.insert(0, "id", [r.fid for r in rows])
        frame = frame.replace({np.nan: None})
        if not spec.has_geometry:
            return gpd.GeoDataFrame(frame)
        geoms = shapely.from_wkb([bytes(r.wkb) for r in rows])
        gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")
        if bbox is not None:
            gdf = gdf.iloc[gdf.sindex.query(shapely.box(*bbox), predicate="intersects")]
            gdf = gdf.sort_values("id").reset_index(drop=True)
        return gdf

    def read_cells(self, version_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The (fid, cell) pairs stored for one version."""
        c = self.t["cells"]
        query = sa.select(c.c.fid, c.c.cell).where(c.c.version_id == version_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        fids = np.array([r[0] for r in rows], dtype=object)
        return fids, np.array([r[1] for r in rows], dtype=np.int64)

    def counts(self) -> dict[str, int]:
        """Stored row counts per table: a cheap fingerprint of the store's whole content."""
        with self.engine.connect() as conn:
            return {
                name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in self.t.items()
            }


def _version(row: Any) -> LayerVersion:
    values: dict[str, Any] = dict(row)
    if values["loaded_at"].tzinfo is None:  # SQLite keeps no zone; we only ever write UTC
        values["loaded_at"] = values["loaded_at"].replace(tzinfo=dt.UTC)
    return LayerVersion(**values)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _props_json(frame: pd.DataFrame) -> list[str]:
    columns = list(frame.columns)
    return [_json_text(dict(zip(columns, values))) for values in frame.itertuples(index=False, name=None)]


def _checksum(ids: np.ndarray, wkb: np.ndarray | None, props: list[str]) -> str:
    digest = hashlib.sha256()  # rows come in id order: the same content, the same checksum
    for n in range(len(ids)):
        digest.update(ids[n].encode())
        digest.update(props[n].encode())
        if wkb is not None:
            digest.update(wkb[n])
    return digest.hexdigest()


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user database in some containers
        return "unknown"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB of pages: bulk loads touch big indexes
    cursor.close()


def _executemany(conn: sa.Connection, sql: str, rows: list[tuple[Any, ...]]) -> Iterator[int]:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            cursor.executemany(sql, chunk)
            yield len(chunk)
    finally:
        cursor.close()


def _copy_partition(
    conn: sa.Connection, table: str, version_id: int, rows: Iterator[tuple[Any, ...]]
) -> Iterator[int]:
    """COPY rows into a new bare partition of ``table`` for one version, then attach it."""
    part = conn.dialect.identifier_preparer.quote(f"{table}_v{int(version_id)}")
    conn.execute(sa.text(f"CREATE TABLE {part} (LIKE {table} INCLUDING DEFAULTS)"))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {part} FROM STDIN") as copy:
            sent = 0
            for row in rows:
                copy.write_row(row)
                sent += 1
                if sent % CHUNK == 0:
                    yield CHUNK
            if sent % CHUNK:
                yield sent % CHUNK
    finally:
        cursor.close()
    bound = int(version_id)  # identifiers and partition bounds cannot be bound parameters
    conn.execute(sa.text(f"ALTER TABLE {table} ATTACH PARTITION {part} FOR VALUES IN ({bound})"))
    conn.execute(sa.text(f"ANALYZE {part}"))
