"""The bodies writes take, built from the layer specs (``layers/specs.yaml``): GeoJSON Features
whose properties are the layer's fields, each with its type, bounds, allowed values and length.

They are strict — no ``"100"`` for a number, no mapping for an address, no field the layer does not
have — and they are in the OpenAPI document, so a client (or a fuzzer) can build valid bodies from
it. A body that does not fit is a 422 naming the field. What a schema cannot say (an unknown park,
a place outside the district, a field this user may not set) the library still refuses.

Bodies are TypedDicts rather than models: a merge patch must tell a field left out from a field
sent as ``null`` (which removes it), and a TypedDict keeps exactly the keys that were sent.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import ConfigDict, Discriminator, Field, StringConstraints, Tag, with_config
from typing_extensions import TypedDict

from api.dependencies import IsoDate
from siteselect.specs import FieldSpec, get_spec

STRICT = ConfigDict(extra="forbid", strict=True)
NO_NUL = r"^[^\x00]*$"  # PostgreSQL stores no NUL in text; neither does any field here
TEXT_LENGTH = 200  # a field without a length of its own in the spec
Degrees = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# [lon, lat] in WGS-84: a JSON array, read as a tuple (a strict tuple would refuse a list)
Position = Annotated[tuple[Degrees, Degrees], Field(strict=False)]


def _type(spec: FieldSpec) -> Any:
    """The annotation of one field, after its spec."""
    if spec.enum is not None:
        return Literal[spec.enum]
    if spec.type in ("str", "industry"):
        return Annotated[str, StringConstraints(max_length=spec.max_length or TEXT_LENGTH, pattern=NO_NUL)]
    if spec.type == "industries":  # prefixes, as a list or ';'-separated
        prefix = Annotated[str, StringConstraints(max_length=8, pattern=NO_NUL)]
        listed = Annotated[list[prefix], Field(max_length=100)]
        return listed | Annotated[str, StringConstraints(max_length=TEXT_LENGTH, pattern=NO_NUL)]
    if spec.type == "int":
        return Annotated[int, Field(strict=True, ge=spec.min, le=spec.max)]
    if spec.type == "float":
        return Annotated[float, Field(strict=True, ge=spec.min, le=spec.max, allow_inf_nan=False)]
    if spec.type == "bool":
        return Annotated[bool, Field(strict=True)]
    if spec.type == "date":
        return IsoDate
    raise ValueError(f"field {spec.name}: no write schema for type {spec.type}")  # pragma: no cover


def properties(name: str, layer: str, fields: tuple[str, ...], *, patch: bool) -> Any:
    """A TypedDict of ``fields`` of ``layer``: the required ones required, the others nullable
    (``null`` is "none"); in a patch every field may be left out, and only optional ones nulled."""
    spec = get_spec(layer)
    keys: dict[str, Any] = {}
    for field in fields:
        one = spec.fields[field]
        kind = _type(one)
        if patch:
            keys[field] = NotRequired[kind if one.required else kind | None]
        else:
            keys[field] = Required[kind] if one.required else NotRequired[kind | None]
    return _typed_dict(name, keys)


def _typed_dict(name: str, keys: dict[str, Any]) -> Any:
    return with_config(STRICT)(TypedDict(name, keys))  # type: ignore[operator]  # made from the specs


@functools.cache
def point() -> Any:
    return _typed_dict("Point", {"type": Required[Literal["Point"]], "coordinates": Required[Position]})


def feature(name: str, props: Any, geometry: Any, *, patch: bool = False) -> Any:
    """A GeoJSON Feature with these properties and this geometry (left out only in a patch)."""
    need = NotRequired if patch else Required
    return _typed_dict(name, {
        "type": Required[Literal["Feature"]],
        "id": NotRequired[Annotated[str, StringConstraints(max_length=TEXT_LENGTH)] | int | None],
        "geometry": need[geometry],
        "properties": need[props],
    })  # fmt: skip


LISTING_FIELDS = tuple(f for f in get_spec("vacancies").fields if f != "updated_at")  # the server's
PARK_FIELDS = ("name", "address", "industries", "operator")  # operator: refused by the library


@functools.cache
def vacancy_feature() -> Any:
    """A vacancy to publish or replace: a Point and all its fields."""
    props = properties("VacancyProperties", "vacancies", LISTING_FIELDS, patch=False)
    return feature("VacancyFeature", props, point())


@functools.cache
def vacancy_patch() -> Any:
    """A JSON merge patch of a vacancy: a Feature with the fields that change, or the fields
    themselves, with ``lon`` and ``lat`` for a move."""
    props = properties("VacancyPatchProperties", "vacancies", LISTING_FIELDS, patch=True)
    flat = dict(props.__annotations__) | {"lon": NotRequired[Degrees], "lat": NotRequired[Degrees]}
    as_feature = feature("VacancyFeaturePatch", props, point(), patch=True)
    return _either(as_feature, _typed_dict("VacancyFieldsPatch", flat))


@functools.cache
def park_feature(patch: bool) -> Any:
    """A park's descriptive fields; its outline is the data stewards' (sending one is refused)."""
    name = "ParkPatch" if patch else "Park"
    props = properties(f"{name}Properties", "parks", PARK_FIELDS, patch=True)
    outline = dict[str, Any] | None
    body = feature(f"{name}Feature", props, outline, patch=True)
    return _either(body, props) if patch else body


def _either(as_feature: Any, fields: Any) -> Any:
    """A patch as a Feature (``"type": "Feature"``) or as the bare fields."""
    return Annotated[
        Annotated[as_feature, Tag("feature")] | Annotated[fields, Tag("fields")],
        Discriminator(_patch_kind),
    ]


def _patch_kind(body: Any) -> str:
    return "feature" if isinstance(body, dict) and body.get("type") == "Feature" else "fields"
