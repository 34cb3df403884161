"""Real `recourse` processes on 127.0.0.1 for tests and benchmarks: started, polled until ready, killed."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent / "recourse"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_key(data_dir: Path, role: str, **env: str) -> str:
    out = subprocess.run([str(BIN), "keys", "create", "--role", role, "--data-dir", str(data_dir)], check=True,
                         capture_output=True, text=True, env={**os.environ, **{f"RECOURSE_{k.upper()}": v for k, v in env.items()}})
    return out.stdout.strip()


class Process:
    """One `recourse` subcommand; `ready` is a URL polled until it answers 200 (None: started is enough)."""

    def __init__(self, args: list[str], ready: str | None = None, **env: str):
        self.args, self.ready = args, ready
        self.env = {**os.environ, **{f"RECOURSE_{k.upper()}": str(v) for k, v in env.items()}}
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30):
        # stderr to a file, not a pipe: a pipe nobody reads fills up and blocks a chatty process
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen([str(BIN), *self.args], env=self.env, stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.monotonic() + timeout
        while self.ready and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"recourse {self.args[0]} exited: {self.errors()[-2000:]}")
            try:
                if httpx.get(self.ready, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        if self.ready:
            raise TimeoutError(f"recourse {self.args[0]} did not become ready")
        return self

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

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


class Server(Process):
    """`recourse serve` on its own port."""

    def __init__(self, data_dir: Path, world: Path | None = None, port: int | None = None, ops_url: str | None = None, **env: str):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["serve", "--port", str(self.port), "--data-dir", str(data_dir)]
        args += ["--world", str(world)] if world is not None else []
        args += ["--ops-url", ops_url] if ops_url else []
        super().__init__(args, ready=f"{self.url}/readyz", **env)


class SimServer(Process):
    """`recourse sim serve`: the shared system of record for split topologies."""

    def __init__(self, data_dir: Path, world: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(["sim", "serve", "--port", str(self.port), "--data-dir", str(data_dir), "--world", str(world)],
                         ready=f"{self.url}/now")


class Worker(Process):
    def __init__(self, data_dir: Path, ops_url: str, workers: int = 4, **env: str):
        super().__init__(["worker", "--ops-url", ops_url, "--data-dir", str(data_dir), "--workers", str(workers)], **env)
