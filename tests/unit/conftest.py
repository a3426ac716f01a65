"""Fixtures the library's tests share: a private copy of the demo store, and its operators."""

from __future__ import annotations

from pathlib import Path

import pytest

from siteselect import accounts
from siteselect.store import Store
from tests.support.department_files import copy_store


@pytest.fixture
def store(demo_db: str, tmp_path: Path) -> Store:
    """A writable copy of the demo store (the shared one is read-only)."""
    return Store(copy_store(demo_db, tmp_path))


@pytest.fixture
def users(store: Store) -> dict[str, object]:
    """Operators of park-001 (a) and park-002 (b), and a clerk."""
    return {
        "a": accounts.add_user(store, "operator-a", "operator", ["park-001"]),
        "b": accounts.add_user(store, "operator-b", "operator", ["park-002"]),
        "clerk": accounts.add_user(store, "clerk", "clerk"),
    }
