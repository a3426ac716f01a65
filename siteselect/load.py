"""Loading a department's layer file: read, validate every row, then store it as a new version."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from siteselect.io import read_layer_file
from siteselect.settings import Settings
from siteselect.specs import get_spec
from siteselect.store import LayerVersion, Progress, Store
from siteselect.validation import validate_layer


def validate_frame(
    layer: str, frame: pd.DataFrame, source: str, settings: Settings | None = None
) -> gpd.GeoDataFrame:
    """Validate raw features of ``layer``; raise ``LayerValidationError`` naming every bad value."""
    extent = (settings or Settings()).extent
    return validate_layer(get_spec(layer), frame, source, extent)


def load_file(
    store: Store,
    layer: str,
    path: str | Path,
    *,
    coordsys: str = "wgs84",
    settings: Settings | None = None,
    loaded_by: str | None = None,
    on_progress: Progress | None = None,
) -> LayerVersion:
    """Load one file as a new version of ``layer``. A bad file loads nothing."""
    get_spec(layer)
    frame = read_layer_file(path, coordsys)
    gdf = validate_frame(layer, frame, str(path), settings)
    return store.write_layer(layer, gdf, source=Path(path).name, loaded_by=loaded_by, on_progress=on_progress)


def load_frame(
    store: Store,
    layer: str,
    frame: pd.DataFrame,
    *,
    source: str,
    settings: Settings | None = None,
    loaded_by: str | None = None,
    on_progress: Progress | None = None,
) -> LayerVersion:
    """Load features already in memory (WGS-84) as a new version of ``layer``."""
    gdf = validate_frame(layer, frame, source, settings)
    return store.write_layer(layer, gdf, source=source, loaded_by=loaded_by, on_progress=on_progress)
