"""The service as people run it: uvicorn on 127.0.0.1 in its own process, for real clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_service(database_url: str, workers: int = 1, **env: str) -> Iterator[str]:
    """Start the service over ``database_url``; yield its base URL once it answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning",
    ]  # fmt: skip
    with running(command, port, env={"SITESELECT_DATABASE_URL": database_url} | env) as base:
        yield base


@contextmanager
def running(
    command: list[str], port: int, *, env: dict[str, str], cwd: str | None = None, path: str = "/health"
) -> Iterator[str]:
    """Run a command that serves HTTP on ``port``; yield its base URL once ``path`` answers."""
    proc = subprocess.Popen(command, env=os.environ | env, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{base}{path}", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_until_answers(
    url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 120, log: Path | None = None
) -> None:
    """Until ``url`` answers; fails once ``timeout`` passes or ``proc`` (when the test started the
    service itself) has ended, with the end of the service's ``log`` when there is one."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
                raise RuntimeError(f"the service did not start: {url}\n{tail}") from None
            time.sleep(0.3)
