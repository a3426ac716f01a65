"""Workers sharing one snapshot folder (``SITESELECT_SNAPSHOT_DIR``): the second service reads the
snapshot the first built and answers as it does."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api import expensive
from api.app import create_app
from siteselect import snapshot_file
from siteselect.index import Catalog, Snapshot
from siteselect.settings import Settings
from tests.support.department_files import copy_store


def test_a_second_worker_reads_the_first_ones_snapshot_and_answers_alike(demo_db, tmp_path, monkeypatch):
    built: list[Snapshot] = []
    real = Catalog._made
    monkeypatch.setattr(Catalog, "_made", lambda self, *args: built.append(real(self, *args)) or built[-1])
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=copy_store(demo_db, tmp_path), snapshot_dir=str(tmp_path / "snapshots")
    )
    checks = [{"industry": code, "lon": 120.468 + i * 0.004, "lat": 36.105 + i * 0.003, "floor": 1}
              for i, code in enumerate(["6232", "9013", "5227", "8040", "6210"])]  # fmt: skip
    answers = []
    for _ in range(2):  # two workers of one service, one after the other
        with TestClient(create_app(settings)) as client:
            answers.append((
                [client.post("/check", json=body).json() for body in checks],
                client.post("/match", json={"industry": "6232", "limit": 10}).json(),
            ))  # fmt: skip
    assert len(built) == 1, "the second worker built its own snapshot instead of reading the first's"
    assert len(list((tmp_path / "snapshots").glob("snapshot-*.pickle"))) == 1
    (checked, matched), (checked_again, matched_again) = answers
    assert [c["verdict"] for c in checked] == [c["verdict"] for c in checked_again]
    assert checked == checked_again and matched == matched_again
    assert len(matched["results"]) == 10


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_a_shared_folder_others_may_write_to_stops_the_service(demo_db, tmp_path, mode):
    folder = tmp_path / "snapshots"
    folder.mkdir()
    folder.chmod(mode)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=copy_store(demo_db, tmp_path), snapshot_dir=str(folder)
    )
    with pytest.raises(PermissionError, match=str(folder)), TestClient(create_app(settings)):
        pass


def _what_a_drawing_process_holds() -> tuple[int, dict[str, int]]:
    """In a drawing process: the snapshot files it read, and the versions it draws with."""
    assert expensive._catalog is not None
    return snapshot_file.loads, expensive._catalog.current().versions


def test_a_drawing_process_reads_the_workers_file_rather_than_the_store(demo_db, tmp_path):
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=copy_store(demo_db, tmp_path), snapshot_dir=str(tmp_path / "snapshots")
    )
    with TestClient(create_app(settings)) as client:  # the worker builds the file
        versions = client.get("/health").json()["layers"]
        drawing = expensive.Expensive(settings)
        try:  # a process spawned as the worker's drawings are
            loads, held = drawing._processes().submit(_what_a_drawing_process_holds).result(timeout=300)
        finally:
            drawing.close()
    assert loads == 1 and held == versions
    assert len(list((tmp_path / "snapshots").glob("snapshot-*.pickle"))) == 1
