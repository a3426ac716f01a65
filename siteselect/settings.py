"""Settings of the library and the service, read from ``SITESELECT_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Laoshan District with its islands, plus a margin of a few kilometres. Features outside are refused.
LAOSHAN_EXTENT = (120.35, 35.85, 121.00, 36.40)


class Settings(BaseSettings):
    """Where the data lives and what the district looks like."""

    model_config = SettingsConfigDict(env_prefix="SITESELECT_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///siteselect.db",
        description="SQLAlchemy URL: sqlite:///path.db (default) or postgresql+psycopg://...",
    )
    extent: tuple[float, float, float, float] = Field(
        default=LAOSHAN_EXTENT,
        description="min lon, min lat, max lon, max lat (WGS-84) of the district served",
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
    max_batch: int = Field(default=1000, ge=1, le=100_000, description="most candidates in one batch request")

    @field_validator("extent")
    @classmethod
    def _extent_is_a_box(cls, v: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        minx, miny, maxx, maxy = v
        if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
            raise ValueError(f"extent must be min lon, min lat, max lon, max lat; got {v}")
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

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgresql")):
            raise ValueError(f"database_url must be sqlite:/// or postgresql+psycopg://, got {v!r}")
        return v
