"""Layer specs, read from ``layers/specs.yaml``: which geometry and fields each layer has."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from siteselect.errors import NotFoundError


def layers_dir() -> Path:
    """The ``layers/`` data folder: beside the package in a checkout, inside it in a wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "layers", here / "_layers"):
        if (candidate / "specs.yaml").is_file():
            return candidate
    raise NotFoundError(f"layers/specs.yaml not found beside or inside {here}")  # pragma: no cover


@dataclass(frozen=True)
class FieldSpec:
    """One attribute of a layer."""

    name: str
    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None  # of text
    aliases: tuple[str, ...] = ()
    labels: str | None = None  # the group of layers/labels.yaml naming the codes in Chinese


@dataclass(frozen=True)
class LayerSpec:
    """The contract of one layer."""

    name: str
    title: str
    geometry: tuple[str, ...]
    fields: dict[str, FieldSpec]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_geometry(self) -> bool:
        return bool(self.geometry)

    @property
    def shared(self) -> bool:
        """Fed by several departments: each load replaces the loading department's entries only."""
        return bool(self.extra.get("shared"))

    @property
    def geocoded(self) -> bool:
        """Rows with an address and no coordinates are placed by the gazetteer on load."""
        return bool(self.extra.get("geocode"))


def _field(name: str, raw: dict[str, Any]) -> FieldSpec:
    enum = raw.get("enum")
    return FieldSpec(
        name=name,
        type=raw["type"],
        required=bool(raw.get("required", False)),
        enum=tuple(enum) if enum else None,
        pattern=raw.get("pattern"),
        min=raw.get("min"),
        max=raw.get("max"),
        max_length=raw.get("max_length"),
        aliases=tuple(str(a) for a in raw.get("aliases", ())),
        labels=raw.get("labels"),
    )


@functools.cache
def _raw_specs() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((layers_dir() / "specs.yaml").read_text(encoding="utf-8"))
    return raw


@functools.cache
def column_aliases() -> dict[str, tuple[str, ...]]:
    """Headers of the columns that are not attributes (id, lon, lat, coordsys, geometry, ignored)."""
    return {name: tuple(str(a) for a in aliases) for name, aliases in _raw_specs()["_columns"].items()}


def _spec(name: str, body: dict[str, Any]) -> LayerSpec:
    fields = {f: _field(f, spec) for f, spec in body["fields"].items()}
    extra = {k: v for k, v in body.items() if k not in ("title", "geometry", "fields")}
    return LayerSpec(name, body["title"], tuple(body.get("geometry", ())), fields, extra)


@functools.cache
def layer_specs() -> dict[str, LayerSpec]:
    """Every layer spec, by layer name."""
    return {name: _spec(name, body) for name, body in _raw_specs().items() if not name.startswith("_")}


@functools.cache
def record_specs() -> dict[str, LayerSpec]:
    """The records departments keep as tables and that are joined to a layer's features, by kind."""
    return {name: _spec(name, body) for name, body in _raw_specs()["_records"].items()}


def get_spec(layer: str) -> LayerSpec:
    """The spec of ``layer``; ``NotFoundError`` names the known layers if there is none."""
    specs = layer_specs()
    if layer not in specs:
        raise NotFoundError(f"unknown layer {layer!r}; known layers: {', '.join(specs)}")
    return specs[layer]
