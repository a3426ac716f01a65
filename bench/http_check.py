"""Benchmark: POST /check over HTTP under 16 concurrent keep-alive connections, beside a no-op.

    python bench/http_check.py [--seconds 15]

The service runs as it would in production: uvicorn with httptools and uvloop, 2 workers, on the
scaled Laoshan demo (20,000 buildings, 100,000 POIs) in an embedded SQLite store, on loopback.
wrk (Debian package `wrk`) drives it with 16 connections; the same run measures GET /noop, the
floor any endpoint stands on. Targets for /check: 1,500 requests/s with p99 at most 25 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scaled_demo import describe, load_scaled, random_candidates
from siteselect.store import Store

CONNECTIONS, THREADS = 16, 2

LUA = """
local bodies = %s
local n = 0
request = function()
  n = n %% #bodies + 1
  return wrk.format("POST", "/check", {["Content-Type"] = "application/json"}, bodies[n])
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the service did not start in time")


def wrk(url: str, seconds: int, script: Path | None = None) -> tuple[float, float]:
    """Requests per second and p99 latency in milliseconds."""
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors in the run:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return rps, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "scaled.db"
        layers = load_scaled(Store(f"sqlite:///{db}"))
        print(f"data: {describe(layers)}")
        bodies = [
            json.dumps({"industry": c, "lon": x, "lat": y, "floor": 2})
            for x, y, c in random_candidates(layers, 500)
        ]
        script = Path(folder) / "check.lua"
        script.write_text(LUA % ("{" + ", ".join(json.dumps(b) for b in bodies) + "}"))
        port = free_port()
        env = os.environ | {"SITESELECT_DATABASE_URL": f"sqlite:///{db}"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2", "--http", "httptools", "--loop", "uvloop",
             "--no-access-log", "--log-level", "warning"],
            env=env,
        )  # fmt: skip
        try:
            wait_ready(port)
            base = f"http://127.0.0.1:{port}"
            wrk(f"{base}/check", 3, script)  # warm both workers' cell maps
            noop = wrk(f"{base}/noop", args.seconds)
            check = wrk(f"{base}/check", args.seconds, script)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"{CONNECTIONS} connections, {THREADS} wrk threads, uvicorn 2 workers (httptools, uvloop), loopback"
    )
    print(f"GET  /noop   {noop[0]:>9,.0f} requests/s   p99 {noop[1]:6.2f} ms")
    print(
        f"POST /check  {check[0]:>9,.0f} requests/s   p99 {check[1]:6.2f} ms   (target 1,500/s, p99 <= 25 ms)"
    )


if __name__ == "__main__":
    main()
