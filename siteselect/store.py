"""The store: versioned layers in SQLite (the default) or PostGIS, through SQLAlchemy and GeoAlchemy2.

One schema serves both backends; its tables are declared here and made by the migrations
(``siteselect.migrations``), whose latest revision must give exactly these. Every load writes a
new version of the whole layer in one transaction, in chunks: a row in ``layer_versions``, the
features (geometry, attributes as JSON) and their H3 cells as ``bigint``. Features too many to
hold in memory are staged on disk first (:class:`Staging`). Earlier versions stay, so any
check can be reproduced as of a version or a date.
On PostGIS the geometry column is typed (SRID 4326, GiST index) and bulk rows go in with COPY; on
SQLite the geometry is WKB in a BLOB and needs no extension.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import getpass
import hashlib
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely
import sqlalchemy as sa

from siteselect import migrations, security
from siteselect.errors import NotFoundError, StaleWriteError, StoreError
from siteselect.grid import geometries_cells
from siteselect.schema import account_tables, layer_tables, report_table
from siteselect.settings import Settings
from siteselect.spatial_sql import register_sqlite_functions
from siteselect.specs import LayerSpec, get_spec

CHUNK = 50_000
Progress = Callable[[int, int], None]
# What a store that is away, or too slow, raises: no connection, a connection lost, no pooled
# connection free in time, a statement cancelled by its timeout.
AWAY = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


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


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Store:
    """A versioned layer store over one database URL."""

    def __init__(
        self,
        url: str,
        *,
        h3_resolution: int = 9,
        owner_url: str | None = None,
        connect_timeout_s: float = 2.0,
        statement_timeout_s: float | None = None,
    ):
        """Open the store at ``url``; set its schema up through ``owner_url`` if given (the role
        that owns it, on PostGIS), else through ``url`` itself. ``statement_timeout_s`` bounds
        every statement of this store's connections (the service's; loads run unbounded)."""
        self.url = url
        self.h3_resolution = h3_resolution
        self.engine = _engine(url, connect_timeout_s, statement_timeout_s)
        self.postgis = self.engine.dialect.name == "postgresql"
        self.metadata = sa.MetaData()
        self.t = layer_tables(self.metadata, self.postgis)
        self.accounts = account_tables(self.metadata)
        self.reports = report_table(self.metadata)
        if owner_url and owner_url != url:
            owner = _engine(owner_url, connect_timeout_s, None)
            try:
                self._set_up(owner, owner_url, service_role=sa.engine.make_url(url).username)
            finally:
                owner.dispose()
        else:
            self._set_up(self.engine, url, service_role=None)

    @classmethod
    def from_settings(cls, settings: Settings, *, service: bool = False) -> Store:
        """The store the settings name; the ``service``'s statements are bounded in time."""
        return cls(
            settings.database_url,
            h3_resolution=settings.h3_resolution,
            owner_url=settings.database_owner_url or None,
            connect_timeout_s=settings.database_connect_timeout_s,
            statement_timeout_s=settings.database_statement_timeout_s if service else None,
        )

    def _set_up(self, engine: sa.Engine, url: str, service_role: str | None) -> None:
        """Make a new store by the migrations (tables, policies, the audit trigger), refuse one at
        another revision, and grant the service's role its rows; ``engine`` and ``url`` are the
        owner's where there is one."""
        try:
            with engine.connect() as conn:
                ready = migrations.check(conn, self._safe_url())
            if not ready:  # a new store: made by the migrations, as an upgrade would make it
                migrations.upgrade(url)
            if self.postgis and service_role is not None:
                with engine.begin() as conn:
                    security.grant_once(conn, service_role)
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
        gdf: gpd.GeoDataFrame | Staging,
        *,
        source: str,
        loaded_by: str | None = None,
        on_progress: Progress | None = None,
        based_on: int | None = None,
        also: Callable[[sa.Connection, LayerVersion], None] | None = None,
    ) -> LayerVersion:
        """Store validated features (in memory, or staged on disk) as a new version of ``layer``,
        all or nothing, in chunks of ``CHUNK`` rows.

        ``based_on`` makes the write conditional: it is refused (``StaleWriteError``) unless that
        version is still the latest when it commits. ``also`` runs in the same transaction (an
        audit record)."""
        spec = get_spec(layer)
        if isinstance(gdf, Staging):
            staged = gdf
            count, checksum, batches = staged.count, staged.checksum(), staged.batches
        else:
            # Rows go in id order: the checksum then depends on content only, and the primary key
            # index is appended to rather than inserted into at random.
            gdf = gdf.iloc[np.argsort(gdf["id"].astype(str).to_numpy(), kind="stable")]
            rows = _encode(spec, gdf)
            count, checksum = len(rows[0]), _checksum(*rows)
            batches = functools.partial(_slices, *rows)
        who = loaded_by or _whoami()
        try:
            with self.engine.begin() as conn:
                version = self._new_version(conn, layer, source, who, count, checksum, based_on)
                self._insert_all(conn, version, batches(), on_progress)
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
        batches: Iterator[Rows],
        on_progress: Progress | None,
    ) -> None:
        done = 0
        if self.postgis:  # bare partitions, made and attached by the tables' owner (see security)
            conn.execute(sa.text("SELECT siteselect_new_partitions(:v)"), {"v": version.id})
        for ids, wkb, props in batches:
            self._insert_features(conn, version.id, ids, wkb, props)
            if wkb is not None:
                cell_pos, cells = geometries_cells(shapely.from_wkb(wkb), self.h3_resolution)
                self._insert_cells(conn, version.id, ids[cell_pos], cells)
            done += len(ids)
            if on_progress:
                on_progress(done, version.feature_count)
        if self.postgis:
            conn.execute(sa.text("SELECT siteselect_attach_partitions(:v)"), {"v": version.id})

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
        else:
            self.write_lock(conn)

    def write_lock(self, conn: sa.Connection) -> None:
        """On SQLite, take the database's write lock now, before the transaction reads what it
        will write: a write statement takes it (one that changes nothing will do). Without it the
        read is outside any transaction and another write can slip in before this one's. PostGIS
        transactions lock the rows they read instead (``FOR UPDATE``)."""
        if not self.postgis:
            conn.exec_driver_sql("UPDATE layer_versions SET id = id WHERE 0")

    def _insert_features(
        self,
        conn: sa.Connection,
        version_id: int,
        ids: np.ndarray,
        wkb: np.ndarray | None,
        props: list[str],
    ) -> None:
        if self.postgis:
            hexes = (
                [None] * len(ids) if wkb is None else [w.hex() for w in wkb]
            )  # EWKB hex is what COPY's text input of geometry takes
            rows = ((version_id, i, f"SRID=4326;{h}" if h else None, p) for i, h, p in zip(ids, hexes, props))
            _copy_partition(conn, "features", version_id, rows)
        else:
            blobs = [None] * len(ids) if wkb is None else list(wkb)
            sql = "INSERT INTO features (version_id, fid, geom, props) VALUES (?, ?, ?, ?)"
            _executemany(conn, sql, [(version_id, i, b, p) for i, b, p in zip(ids.tolist(), blobs, props)])

    def _insert_cells(
        self, conn: sa.Connection, version_id: int, fids: np.ndarray, cells: np.ndarray
    ) -> None:
        order = np.argsort(cells, kind="stable")  # in index order: appends, not random inserts
        rows = [(version_id, f, c) for f, c in zip(fids[order].tolist(), cells[order].tolist())]
        if self.postgis:
            _copy_partition(conn, "feature_cells", version_id, iter(rows))
        else:
            _executemany(conn, "INSERT INTO feature_cells (version_id, fid, cell) VALUES (?, ?, ?)", rows)

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
        bounded: bool = True,
    ) -> gpd.GeoDataFrame:
        """The features of one version of a layer as a GeoDataFrame (columns in spec order);
        ``bounded=False`` reads past a request's statement timeout (see :meth:`reading`)."""
        spec = get_spec(layer)
        chosen = self.resolve_version(layer, version=version, as_of=as_of)
        f = self.t["features"]
        geom = sa.func.ST_AsBinary(f.c.geom) if self.postgis else f.c.geom
        query = sa.select(f.c.fid, geom.label("wkb"), f.c.props).where(f.c.version_id == chosen.id)
        with self.reading(bounded=bounded) as conn:
            rows = conn.execute(query.order_by(f.c.fid)).all()
        gdf = _frame(layer, rows)
        if bbox is not None and spec.has_geometry:
            gdf = gdf.iloc[gdf.sindex.query(shapely.box(*bbox), predicate="intersects")]
            gdf = gdf.sort_values("id").reset_index(drop=True)
        return gdf

    @contextlib.contextmanager
    def reading(self, *, bounded: bool = True) -> Iterator[sa.Connection]:
        """A connection for reading; ``bounded=False`` lifts the statement timeout that bounds a
        request, for the snapshot's reads of whole layers and every listing, which take as long as
        they are big (a city's million POIs outlast it). A request's own reads stay bounded."""
        with self.engine.connect() as conn:
            if self.postgis and not bounded:
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # this transaction's only
            yield conn

    def select_features(
        self, version: LayerVersion, where: sa.ColumnElement[bool] | None, *, offset: int, limit: int
    ) -> tuple[gpd.GeoDataFrame, int]:
        """A page of the features of one version that meet ``where`` (in id order), and how many
        meet it in all."""
        f = self.t["features"]
        condition = f.c.version_id == version.id
        if where is not None:
            condition = sa.and_(condition, where)
        geom = sa.func.ST_AsBinary(f.c.geom) if self.postgis else f.c.geom
        page = sa.select(f.c.fid, geom.label("wkb"), f.c.props).where(condition)
        count = sa.select(sa.func.count()).select_from(f).where(condition)
        with self.engine.connect() as conn:
            rows = conn.execute(page.order_by(f.c.fid).offset(offset).limit(limit)).all()
            short = len(rows) < limit and (rows or offset == 0)  # the last page: no need to count
            matched = offset + len(rows) if short else conn.execute(count).scalar_one()
        return _frame(version.layer, rows), matched

    def read_cells(self, version_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The (fid, cell) pairs stored for one version."""
        c = self.t["cells"]
        query = sa.select(c.c.fid, c.c.cell).where(c.c.version_id == version_id)
        with self.reading(bounded=False) as conn:  # only the snapshot reads them
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


class Staging:
    """Validated features of one layer held on disk until they are written, as the store keeps
    them (id, WKB, attributes as JSON) in a temporary SQLite file: a load of a million rows then
    holds one chunk in memory at a time. Ids are unique here as in the store; a repeated id is
    reported with the row of its first occurrence rather than staged."""

    def __init__(self, layer: str):
        self.spec = get_spec(layer)
        self._folder = tempfile.TemporaryDirectory(prefix="siteselect-staging-")
        self._db = sqlite3.connect(Path(self._folder.name) / "staged.db")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE staged (fid TEXT PRIMARY KEY, line INTEGER, geom BLOB, props TEXT)")
        self._db.execute("CREATE TEMP TABLE probe (fid TEXT, line INTEGER)")
        self.count = 0

    def __enter__(self) -> Staging:
        return self

    def __len__(self) -> int:
        return self.count

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()

    def add(self, gdf: gpd.GeoDataFrame, lines: Any = None) -> list[tuple[str, int | None, int | None]]:
        """Stage validated features (``lines``: each one's row in its file). Returns, for each id
        staged already: the id, the row of the one staged, the row of this one (not staged)."""
        ids, wkb, props = _encode(self.spec, gdf)
        rows = [None] * len(ids) if lines is None else [int(n) for n in lines]
        blobs = [None] * len(ids) if wkb is None else list(wkb)
        before = self._db.total_changes
        self._db.executemany(
            "INSERT INTO staged VALUES (?, ?, ?, ?) ON CONFLICT (fid) DO NOTHING",
            zip(ids.tolist(), rows, blobs, props),
        )
        added = self._db.total_changes - before
        self.count += added
        if added == len(ids):
            return []
        # Some ids were staged before: the rows staged under them are not these ones.
        self._db.executemany("INSERT INTO probe VALUES (?, ?)", zip(ids.tolist(), rows))
        found = self._db.execute(
            "SELECT fid, staged.line, probe.line FROM probe JOIN staged USING (fid)"
            " WHERE staged.line IS NOT probe.line ORDER BY probe.rowid"
        ).fetchall()
        self._db.execute("DELETE FROM probe")
        return [(fid, first, line) for fid, first, line in found]

    def batches(self) -> Iterator[Rows]:
        """The staged rows in id order (the store's), ``CHUNK`` at a time."""
        cursor = self._db.execute("SELECT fid, geom, props FROM staged ORDER BY fid")
        while chunk := cursor.fetchmany(CHUNK):
            ids = np.array([r[0] for r in chunk], dtype=object)
            wkb = np.array([r[1] for r in chunk], dtype=object) if self.spec.has_geometry else None
            yield ids, wkb, [r[2] for r in chunk]

    def checksum(self) -> str:
        """The checksum the same features would have written from memory."""
        digest = hashlib.sha256()
        for ids, wkb, props in self.batches():
            _checksum(ids, wkb, props, digest)
        return str(digest.hexdigest())


def _frame(layer: str, rows: Sequence[Any]) -> gpd.GeoDataFrame:
    """Stored rows (fid, wkb, props) as features, columns in spec order."""
    spec = get_spec(layer)
    frame = pd.DataFrame([r.props for r in rows], columns=list(spec.fields), dtype=object)
    frame.insert(0, "id", [r.fid for r in rows])
    frame = shared_texts(frame.replace({np.nan: None}))
    if not spec.has_geometry:
        return gpd.GeoDataFrame(frame)
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows])
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")


def shared_texts(frame: pd.DataFrame) -> pd.DataFrame:
    """Each column's equal texts as one object, in the column's own type. Every row's attributes
    are parsed apart, so each holds its own copy of a text: a city's million POIs name eleven
    categories and forty industry codes, its half a million house numbers two hundred roads —
    copies that took 0.4 GB of a served snapshot and were pickled one by one into its file."""
    for column in frame.columns:
        values = frame[column].to_numpy()
        if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) != "string":
            continue  # numbers, flags, lists (a rule's parameters): left as they are
        codes, uniques = pd.factorize(values)
        if len(uniques) < len(values):
            shared = np.concatenate([uniques.astype(object), [None]])[codes]  # -1 (missing): None
            # In the column's type: object (None kept) or pandas' text (None its NaN).
            frame[column] = pd.Series(shared, index=frame.index, dtype=frame[column].dtype)
    return frame


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


# A chunk of features as stored: ids, WKB (None for a layer without geometry), attributes as JSON.
Rows = tuple[np.ndarray, np.ndarray | None, list[str]]


def _encode(spec: LayerSpec, gdf: gpd.GeoDataFrame) -> Rows:
    ids = gdf["id"].astype(str).to_numpy()
    props = _props_json(gdf.drop(columns=[c for c in ("id", "geometry") if c in gdf]))
    wkb = shapely.to_wkb(gdf.geometry.to_numpy()) if spec.has_geometry else None
    return ids, wkb, props


def _slices(ids: np.ndarray, wkb: np.ndarray | None, props: list[str]) -> Iterator[Rows]:
    for start in range(0, len(ids), CHUNK):
        end = start + CHUNK
        yield ids[start:end], None if wkb is None else wkb[start:end], props[start:end]


def _checksum(ids: np.ndarray, wkb: np.ndarray | None, props: list[str], digest: Any = None) -> str:
    """The checksum of rows in id order (continuing ``digest``, a chunk after another)."""
    digest = digest or hashlib.sha256()  # rows come in id order: the same content, the same checksum
    for n in range(len(ids)):
        digest.update(ids[n].encode())
        digest.update(props[n].encode())
        if wkb is not None:
            digest.update(wkb[n])
    return str(digest.hexdigest())


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user database in some containers
        return "unknown"


def _engine(url: str, connect_timeout_s: float, statement_timeout_s: float | None) -> sa.Engine:
    """An engine that fails fast when PostGIS is away: connecting and waiting for a pooled
    connection give up after ``connect_timeout_s``, statements after ``statement_timeout_s``; a
    pooled connection is tested before use, so the service recovers when the server is back."""
    options: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
    if sa.engine.make_url(url).get_backend_name() == "postgresql":
        connect_args: dict[str, Any] = {"connect_timeout": max(2, round(connect_timeout_s))}
        if statement_timeout_s is not None:
            connect_args["options"] = f"-c statement_timeout={round(statement_timeout_s * 1000)}"
        options |= {"connect_args": connect_args, "pool_pre_ping": True, "pool_timeout": connect_timeout_s}
    engine = sa.create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB of pages: bulk loads touch big indexes
    cursor.execute("PRAGMA case_sensitive_like=ON")  # LIKE as PostgreSQL's: 'A%' does not match 'a'
    cursor.close()
    register_sqlite_functions(dbapi_conn)  # the spatial tests of filters


def _executemany(conn: sa.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _copy_partition(
    conn: sa.Connection, table: str, version_id: int, rows: Iterator[tuple[Any, ...]]
) -> None:
    """COPY rows into the bare partition of ``table`` for one version (attached afterwards)."""
    part = conn.dialect.identifier_preparer.quote(f"{table}_v{int(version_id)}")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {part} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()
