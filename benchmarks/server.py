"""A real `mlflow models serve` process on a free loopback port, stopped by its PID."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nothing listens on the port (connections left in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Served(str):
    """The base URL of a served model; ``pgid``: the process group of its processes."""
    pgid: int


def memory_mb(pgid: int) -> tuple[float, float]:
    """(resident now, peak resident since start) in MB of the largest process in group ``pgid``
    (the one that answers requests), from /proc."""
    best = (0.0, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int((entry / "stat").read_text().rpartition(")")[2].split()[2]) != pgid:
                continue
            fields = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
        except (OSError, ValueError):
            continue
        now, peak = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
        best = max(best, (now, peak), key=lambda m: m[0])
    return best


@contextmanager
def serve(model_uri: str, tracking_uri: str, cwd: Path, timeout: float = 90.0):
    """Start the documented command, wait for /ping, yield the base URL; stop the whole process
    group afterwards and check that the port is free again."""
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = open(cwd / f"serve-{port}.log", "w")
    proc = subprocess.Popen(
        ["mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = Served(f"http://127.0.0.1:{port}")
    url.pgid = proc.pid  # start_new_session: the group's id is the first process's
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited {proc.returncode}: {(cwd / log.name).read_text()}")
            try:
                if requests.get(f"{url}/ping", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow models serve not up after {timeout} s")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        deadline = time.monotonic() + 10
        while not port_is_free(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert port_is_free(port), f"port {port} still in use after stopping the server"
