"""The results folder of a batch: Parquet parts written by the workers, and a manifest written last.

Each part is written under a temporary name and renamed when whole, and is named after what it
holds (its H3 parent cell), so a task run twice — a worker died, or was thought dead — replaces its
own part and nothing is written twice. The manifest ``_SUCCESS`` (JSON: parts, rows, skipped rows,
layer versions) is written last, and removed first when a folder is reused: a folder without it
holds no complete results, and :func:`read_results` refuses it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from siteselect.candidates import BatchError

MANIFEST = "_SUCCESS"
RESULTS = pa.schema([("ref", pa.string()), ("industry", pa.string()), ("verdict", pa.string()),
                     ("score", pa.float64()), ("reasons", pa.string()), ("error", pa.string())])  # fmt: skip
PART_GLOB = "part-*.parquet"


def prepare(out: Path) -> None:
    """Make ``out`` ready for a new batch: the manifest goes first, then parts of an earlier one."""
    if out.exists() and not out.is_dir():
        raise BatchError(f"results folder {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    for old in [*out.glob(PART_GLOB), *out.glob(".part-*.tmp")]:
        old.unlink()


def write_part(out: Path, name: str, results: Iterable[pd.DataFrame]) -> dict[str, Any]:
    """Write one part, frame by frame as ``results`` come, whole or not at all; what the manifest
    lists of it."""
    final = out / f"part-{name}.parquet"
    temporary = out / f".part-{name}.{uuid.uuid4().hex}.tmp"
    rows = 0
    try:
        with pq.ParquetWriter(temporary, RESULTS) as writer:
            for frame in results:
                writer.write_table(pa.Table.from_pandas(frame, schema=RESULTS, preserve_index=False))
                rows += len(frame)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return {"file": final.name, "rows": rows}


def write_csv(out: Path, parts: list[str], path: Path) -> Path:
    """One CSV of every part, in the manifest's order, streamed part by part (on a worker)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("w", encoding="utf-8", newline="") as f:
            for n, part in enumerate(parts):
                pq.read_table(out / part).to_pandas().to_csv(f, index=False, header=n == 0)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def finish(out: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest, the last step of a batch: the results are complete. Every task has
    ended, so a temporary part still there is a killed worker's: it goes first."""
    for orphan in out.glob(".part-*.tmp"):
        orphan.unlink()
    temporary = out / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(temporary, out / MANIFEST)


def manifest_of(out: str | Path) -> dict[str, Any]:
    """The manifest of a complete results folder; a folder without one is refused."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        raise BatchError(f"results folder {out} holds no complete results (no {MANIFEST})")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def read_results(out: str | Path) -> pd.DataFrame:
    """Every result of a complete results folder, in one frame (for small batches and tests)."""
    manifest = manifest_of(out)
    frames = []
    for part in manifest["parts"]:
        path = Path(out) / part["file"]
        if not path.is_file():
            raise BatchError(f"results folder {out} lacks its part {part['file']}")
        frames.append(pd.read_parquet(path))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
