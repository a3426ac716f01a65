"""Settings of the library and the service, read from ``SITESELECT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from siteselect.errors import InvalidInputError
from siteselect.geodesy import FRAME_REACH_M, farthest_from_centre_m

# Laoshan District with its islands, plus a margin of a few kilometres. Features outside are refused.
LAOSHAN_EXTENT = (120.35, 35.85, 121.00, 36.40)


class Settings(BaseSettings):
    """Where the data lives and what the district looks like."""

    model_config = SettingsConfigDict(env_prefix="SITESELECT_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///siteselect.db",
        description="SQLAlchemy URL the service works through: sqlite:///path.db (default) or "
        "postgresql+psycopg://... (on PostGIS, a role that reads and writes rows but owns nothing)",
    )
    database_owner_url: str = Field(
        default="",
        description="SQLAlchemy URL of the role that owns the schema on PostGIS: set-up and migrations "
        "create and alter tables, row-security policies and the audit log's trigger through it, and grant "
        "the service's role what it needs; empty: the service's own URL (one role, as on SQLite)",
    )
    database_connect_timeout_s: float = Field(
        default=2.0, ge=2, le=60, description="give up connecting to PostGIS after this long"
    )
    database_statement_timeout_s: float = Field(
        default=5.0, gt=0, le=3600, description="the service cancels a PostGIS statement running longer"
    )
    expensive_concurrency: int = Field(
        default=1, ge=1, le=16, description="suitability surfaces drawn at once per worker; others queue"
    )
    expensive_apart: bool = Field(
        default=True,
        description="draw surfaces in processes of each worker's own, at a lower CPU priority (false: "
        "in the worker's threads, sparing those processes' memory)",
    )
    extent: tuple[float, float, float, float] = Field(
        default=LAOSHAN_EXTENT,
        description="min lon, min lat, max lon, max lat (WGS-84) of the districts served (all of them: "
        "the planar frame is centred on it, and it may reach at most 170 km from its centre)",
    )
    h3_resolution: int = Field(default=9, ge=5, le=12, description="resolution of stored H3 cells")
    stale_after_days: int = Field(
        default=30, ge=1, le=3650, description="listings not confirmed for longer rank lower"
    )
    basemap: str = Field(
        default="none",
        description="what maps draw beneath the data: none (district, roads and buildings as vectors), "
        "a tile URL template with {z}, {x}, {y} (an intranet tile server), or gcj02:<template> for a "
        "provider in GCJ-02, the drawn data then shifted to match",
    )
    basemap_attribution: str = Field(default="", description="credit shown for the tiles")
    session_hours: int = Field(default=8, ge=1, le=24 * 30, description="a sign-in lasts at most this long")
    session_idle_minutes: int = Field(
        default=60, ge=1, le=24 * 60, description="a session unused this long ends"
    )
    sign_in_failures: int = Field(
        default=9, ge=1, le=100, description="wrong passwords within a minute that lock an account"
    )
    sign_in_lock_minutes: int = Field(default=15, ge=1, le=24 * 60, description="how long the lock lasts")
    snapshot_dir: str = Field(
        default="",
        description="folder where the service's workers share their indexed layers, one file per set "
        "of layer versions: the first worker to need one builds and writes it, the others and every "
        "restart read it (empty: each worker builds its own)",
    )
    max_batch: int = Field(default=1000, ge=1, le=100_000, description="most candidates in one batch request")

    @property
    def snapshot_folder(self) -> Path | None:
        """``snapshot_dir`` as a folder, or None where workers do not share snapshots."""
        return Path(self.snapshot_dir) if self.snapshot_dir else None

    @field_validator("extent")
    @classmethod
    def _extent_is_a_box(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        minx, miny, maxx, maxy = v
        if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
            raise ValueError(f"extent must be min lon, min lat, max lon, max lat; got {v}")
        reach = farthest_from_centre_m(v)
        if reach > FRAME_REACH_M:  # one planar frame would no longer be exact at its corners
            raise ValueError(
                f"extent {v} reaches {reach / 1000:.0f} km from its centre; the districts one deployment "
                f"serves must lie within {FRAME_REACH_M / 1000:.0f} km of it"
            )
        return v

    @field_validator("basemap")
    @classmethod
    def _basemap(cls, v: str) -> str:
        template = v.removeprefix("gcj02:")
        if v != "none" and not all(part in template for part in ("{z}", "{x}", "{y}")):
            raise ValueError(
                "basemap must be none, a tile URL template with {z}/{x}/{y}, or gcj02:<template>;"
                f" got {v!r}"
            )
        return v

    @field_validator("database_url", "database_owner_url")
    @classmethod
    def _known_backend(cls, v: str, info: ValidationInfo) -> str:
        optional = info.field_name == "database_owner_url"
        if not (v == "" and optional) and not v.startswith(("sqlite://", "postgresql")):
            raise ValueError(f"a database URL must be sqlite:/// or postgresql+psycopg://, got {v!r}")
        return v


class _FileOnly(Settings):
    """The settings of an environment file alone, whatever this process's environment holds."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (dotenv_settings,)


PREFIX = "SITESELECT_"


def check_env_file(path: Path) -> Settings:
    """The settings an environment file gives; InvalidInputError naming every bad or unknown one."""
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    problems = [
        f"{path}: {key} is not a setting (known: {', '.join(sorted(known))})"
        for key in dotenv_values(path)
        if key.upper().startswith(PREFIX) and key.upper() not in known
    ]
    try:
        settings: Settings = _FileOnly(_env_file=path)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems += [f"{path}: {line}" for line in named(exc)]
    if problems:
        raise InvalidInputError("\n".join(problems))
    return settings


def named(exc: ValidationError) -> list[str]:
    """Each bad setting as ``SITESELECT_NAME='value': what is wrong``."""
    return [f"{PREFIX}{str(e['loc'][0]).upper()}={e['input']!r}: {e['msg']}" for e in exc.errors()]
