"""Park operators keep the descriptive fields of their own parks up to date.

A park's name, address and target industries are the operator's to describe; its outline and the
operator it is registered to are planning data, loaded by the data stewards. The parks layer stays
versioned: each change is a new version with the operator as its author, written only if the
version it was made against is still the latest. A park's ETag is a digest of its own fields, so a
change to another park does not make it stale; such a race is retried. Every change and every
refusal goes to the audit log, a change in the same transaction as its version. A change names the
park's ETag it was made against, or ``*`` to apply to whatever the park's fields are now.
"""

from __future__ import annotations

import hashlib
from typing import Any

import geopandas as gpd
import orjson
import pandas as pd
import sqlalchemy as sa

from siteselect import audit
from siteselect.conditions import require_match
from siteselect.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SiteSelectError,
    StaleWriteError,
)
from siteselect.store import LayerVersion, Store
from siteselect.users import User
from siteselect.validation import validate_frame

DESCRIPTIVE = ("name", "address", "industries")
PLANNING = ("operator", "geometry", "lon", "lat")  # the stewards' data, not the operator's
RETRIES = 3  # another park's change got in first: read again and retry


def etag(park: dict[str, Any]) -> str:
    fields = {k: park.get(k) for k in ("id", *DESCRIPTIVE, "operator")}
    return '"' + hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()[:20] + '"'


def current(store: Store) -> tuple[gpd.GeoDataFrame, int]:
    """The parks of the latest version, and its number."""
    versions = store.current_versions()
    if "parks" not in versions:
        raise NotFoundError("no parks layer is loaded")
    version = versions["parks"].version
    return store.read_layer("parks", version=version), version


def record(parks: gpd.GeoDataFrame, park_id: str) -> dict[str, Any]:
    """One park's fields from a frame of parks, blanks as None (what its ETag is made of)."""
    hit = parks[parks["id"] == park_id]
    if hit.empty:
        raise NotFoundError(f"no park {park_id!r}")
    rec = hit.drop(columns="geometry").iloc[0].to_dict()
    return {k: (None if _missing(v) else v) for k, v in rec.items()}


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, tuple, str)) and bool(pd.isna(value)))


def update(store: Store, user: User, park_id: str, body: dict[str, Any], *, if_match: str | None,
           merge: bool) -> dict[str, Any]:  # fmt: skip
    """Change a park's descriptive fields (a JSON merge patch, or all of them), as a new version."""
    action = f"park {'patch' if merge else 'replace'}"
    with audit.accounted(store, user, action, park_id):
        for _ in range(RETRIES):
            done = _attempt(store, user, park_id, body, if_match, merge, action)
            if done is not None:
                return done
    audit.refuse(
        store, user, action, park_id, StaleWriteError(f"park {park_id}: other writes kept coming first")
    )


def _attempt(store: Store, user: User, park_id: str, body: dict[str, Any], if_match: str | None,
             merge: bool, action: str) -> dict[str, Any] | None:  # fmt: skip
    """One try against the latest version; None when another version was written meanwhile."""
    parks, version = current(store)
    before = record(parks, park_id)
    try:
        _check(user, park_id, body)
        require_match(if_match, etag(before), f"park {park_id}")
        changed = _changed(parks, park_id, before, body, merge)
    except SiteSelectError as exc:
        audit.refuse(store, user, action, park_id, exc)
    after = record(changed, park_id)

    def audited(conn: sa.Connection, new: LayerVersion) -> None:
        audit.record(conn, store, user, action, park_id, before, after, "ok", f"parks v{new.version}")

    try:
        store.write_layer(
            "parks", changed, source=f"{action} of {park_id} by {user.name}", loaded_by=user.name,
            based_on=version, also=audited,
        )  # fmt: skip
    except StaleWriteError:
        return None
    return after


def _check(user: User, park_id: str, body: dict[str, Any]) -> None:
    if user.role == "clerk":
        raise PermissionDeniedError("clerks verify premises; operators describe their parks")
    if user.role == "operator" and park_id not in user.parks:
        raise PermissionDeniedError(f"park {park_id!r}: operator {user.name} runs {', '.join(user.parks)}")
    planning = [k for k in PLANNING if k in body]
    if planning:
        raise PermissionDeniedError(f"{', '.join(planning)}: planning data, loaded by the data stewards")
    if "id" in body and body["id"] != park_id:
        raise InvalidInputError("id: set by the server, not by a write")
    unknown = sorted(set(body) - set(DESCRIPTIVE) - {"id"})
    if unknown:
        raise InvalidInputError(
            f"{', '.join(unknown)}: not a field of a park (writable: {', '.join(DESCRIPTIVE)})"
        )


def _changed(
    parks: gpd.GeoDataFrame, park_id: str, before: dict[str, Any], body: dict[str, Any], merge: bool
) -> gpd.GeoDataFrame:
    """All parks with this one's fields changed, validated against the parks spec."""
    fields = {k: v for k, v in body.items() if k in DESCRIPTIVE}
    new = (before | fields) if merge else ({k: v for k, v in before.items() if k not in DESCRIPTIVE} | fields)
    frame = pd.DataFrame(parks.drop(columns="geometry"))
    row = int((frame["id"] == park_id).to_numpy().nonzero()[0][0])
    frame = frame.astype(object)
    for key in DESCRIPTIVE:
        if key not in frame:
            frame[key] = None
        frame.at[row, key] = new.get(key)
    frame["geometry"] = parks.geometry.to_numpy()
    return validate_frame("parks", frame, f"park {park_id}")
