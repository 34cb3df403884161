"""A real `recourse serve` process on 127.0.0.1 for tests and benchmarks: started, polled until healthy, killed."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent / "recourse"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_key(data_dir: Path, role: str) -> str:
    out = subprocess.run([str(BIN), "keys", "create", "--role", role, "--data-dir", str(data_dir)],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Server:
    def __init__(self, data_dir: Path, world: Path | None = None, port: int | None = None, **env: str):
        self.data_dir, self.world, self.port = data_dir, world, port or free_port()
        self.env = {**os.environ, **{f"RECOURSE_{k.upper()}": str(v) for k, v in env.items()}}
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Server":
        command = [str(BIN), "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.world is not None:
            command += ["--world", str(self.world)]
        self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"recourse serve exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise TimeoutError("recourse serve did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when a machine dies."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
