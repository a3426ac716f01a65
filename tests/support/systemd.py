"""A real systemd service manager for tests, where the machine's init is not systemd (a container).

A private manager (``systemd --user``, run as root, its runtime and unit folders in a temporary
folder) starts, supervises and stops units exactly as PID 1 would read them: ``User=``,
``EnvironmentFile=``, the sandboxing options, ``Restart=``, the stop timeout. It needs the marker
``/run/systemd/system`` that a booted systemd leaves; where it is missing it is made for the
manager's lifetime and removed after.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MARKER = Path("/run/systemd/system")
SYSTEMD = Path("/lib/systemd/systemd")


class Manager:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.units = Path(env["XDG_CONFIG_HOME"]) / "systemd" / "user"

    def systemctl(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["systemctl", "--user", *args], env=self.env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"systemctl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def install(self, unit: Path, drop_in: str) -> str:
        """Link ``unit`` as it was written and add a drop-in beside it; the unit's name."""
        self.systemctl("link", str(unit))
        folder = self.units / f"{unit.name}.d"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "here.conf").write_text(drop_in)
        self.systemctl("daemon-reload")
        return unit.name

    def main_pid(self, name: str) -> int:
        return int(self.systemctl("show", "--property=MainPID", "--value", name))


def available() -> str | None:
    """Why a manager cannot run here, or None."""
    if os.geteuid() != 0:
        return "the service's user can only be switched to by root"
    if not SYSTEMD.exists() or shutil.which("systemctl") is None:
        return "systemd is not installed (make test installs it)"
    return None


@contextmanager
def manager(folder: Path) -> Iterator[Manager]:
    made = next((p for p in (MARKER.parent, MARKER) if not p.exists()), None)  # the first we make
    MARKER.mkdir(parents=True, exist_ok=True)
    run, config = folder / "run", folder / "config"
    run.mkdir(mode=0o700, parents=True)
    config.mkdir()
    env = os.environ | {"XDG_RUNTIME_DIR": str(run), "XDG_CONFIG_HOME": str(config)}
    log = (folder / "manager.log").open("wb")
    process = subprocess.Popen([SYSTEMD, "--user"], env=env, stdout=log, stderr=log, start_new_session=True)
    ours = Manager(env)
    try:
        for _ in range(100):
            if (run / "systemd" / "private").exists():
                break
            if process.poll() is not None:
                raise RuntimeError(f"systemd --user ended: {(folder / 'manager.log').read_text()}")
            time.sleep(0.1)
        yield ours
    finally:
        ours.systemctl("exit", check=False)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
