"""`carereach ingest` as a real process on a loopback port, for the tests that need one."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(
    env: dict[str, str], cwd: Path, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start `carereach ingest`, wait until /hooks/health answers, yield its URL and process;
    stop it with SIGTERM afterwards (unless the test already ended it)."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "carereach.cli", "ingest", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
            try:
                if httpx2.get(f"{url}/hooks/health", timeout=1).text == "ok":
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "carereach ingest did not start"
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
