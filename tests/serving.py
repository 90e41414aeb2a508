"""A real ``starrec serve`` driven as its clients would: start it on a free port, upload photos under a
bounded load, abuse it within bounds, drive its page in Debian's headless chromium. The tests use these,
and so does bench/service.py (``make bench``)."""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 5
WINDOW = "1000,640"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_service(
    model: Path, log: Path, *options: str, python: tuple[str | Path, ...] = (sys.executable,)
) -> tuple[subprocess.Popen, str]:
    """``starrec serve --model model *options`` on a free port, run by ``python`` (an interpreter and its
    options); (process, URL) once /health answers."""
    port = free_port()
    command = [*map(str, python), "-m", "starrec", "serve", "--model", str(model), "--port", str(port), *options]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"starrec serve did not start:\n{log.read_text()}")


def lean_venv(target: Path) -> Path:
    """A new venv at ``target`` with only what ``pip install starrec[serve]`` brings: the wheel built from this
    checkout, its dependencies from requirements/serve.txt with pip's hash checking (``--no-index`` for the
    wheel proves that the lock holds every one). Returns its python."""
    source, wheels = target.with_name(target.name + "-source"), target.with_name(target.name + "-wheel")
    source.mkdir(parents=True)
    for part in ("pyproject.toml", "README.md", "LICENSE", "src"):
        (shutil.copytree if (ROOT / part).is_dir() else shutil.copy)(ROOT / part, source / part)
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, source], check=True)
    (wheel,) = wheels.glob("starrec-*.whl")
    subprocess.run([sys.executable, "-m", "venv", target], check=True)
    python = target / "bin" / "python"
    lean = [python, "-m", "pip", "--quiet"]
    subprocess.run([*lean, "install", "--require-hashes", "-r", ROOT / "requirements" / "serve.txt"], check=True)
    subprocess.run([*lean, "install", "--no-index", f"{wheel}[serve]"], check=True)
    shutil.rmtree(source)
    shutil.rmtree(wheels)
    return python


def chromium_driver():
    """Selenium's driver of Debian's headless chromium (chromium, chromium-driver), or None if absent."""
    driver_path, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    if not (driver_path and chromium):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={WINDOW}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def load(url: str, photos: list[Path], requests: int, concurrency: int, warm_up: int = WARM_UP) -> dict:
    """``requests`` uploads, ``concurrency`` at a time (after ``warm_up``): latency percentiles in ms,
    requests/s, failures and the statuses seen."""
    bodies = [(photo.name, photo.read_bytes()) for photo in photos]
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:

        def one(number: int) -> tuple[float, int]:
            name, content = bodies[number % len(bodies)]
            started = time.perf_counter()
            response = client.post(f"{url}/predict", files={"photo": (name, content)})
            return time.perf_counter() - started, response.status_code

        for number in range(warm_up):
            one(number)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            timings = list(pool.map(one, range(requests)))
        elapsed = time.perf_counter() - started
    latencies = np.asarray([seconds for seconds, _ in timings]) * 1000
    return {
        "requests": requests,
        "concurrency": concurrency,
        "failed": sum(status != 200 for _, status in timings),
        "statuses": sorted({status for _, status in timings}),
        "requests_per_s": round(requests / elapsed, 1),
        "latency_ms": {f"p{q}": round(float(np.percentile(latencies, q)), 1) for q in (50, 90, 99)}
        | {"max": round(float(latencies.max()), 1)},
    }


def process_memory(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and its peak (VmHWM), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: round(int(fields[name].split()[0]) / 1024, 1) for name in ("VmRSS", "VmHWM")}


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


ATTACKER = "127.0.0.2"
"""Where abusive traffic comes from: another loopback address than the good clients' 127.0.0.1, as another
machine would (the service limits connections per client address: --per-client)."""


def _raw(url: str, head: str, parts=(), limit_s: float = 60.0) -> tuple[int, float, int]:
    """Send ``head`` and then ``parts`` on a fresh connection, then read until it closes (at most ``limit_s``):
    (HTTP status, 0 if closed without an answer; seconds; body bytes sent before the server stopped reading)."""
    host, port = url.removeprefix("http://").split(":")
    started, sent, answer = time.perf_counter(), 0, b""
    with socket.create_connection((host, int(port)), timeout=limit_s, source_address=(ATTACKER, 0)) as connection:
        with contextlib.suppress(OSError):  # the service stopped reading: its answer may be there
            connection.sendall(head.encode())
            for part in parts:
                connection.sendall(part)
                sent += len(part)
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
    return _status(answer), round(time.perf_counter() - started, 2), sent


MULTIPART = "Content-Type: multipart/form-data; boundary=x\r\n"
PHOTO_PART = b'--x\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'


def slow_body(url: str) -> tuple[int, float, int]:
    """A body that promises 5,000 bytes and stops after its first part."""
    return _raw(
        url, f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n{MULTIPART}\r\n", [PHOTO_PART]
    )


def slow_headers(url: str) -> tuple[int, float, int]:
    """Headers that never end (slow-loris)."""
    return _raw(url, "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Waiting: 1\r\n")


def chunked_flood(url: str, most: int = 32 * 2**20) -> tuple[int, float, int]:
    """A chunked photo that never ends (up to ``most`` bytes) under a Content-Length of 100."""
    head = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n"
    head += f"{MULTIPART}\r\n"
    first = b"%x\r\n%s\r\n" % (len(PHOTO_PART), PHOTO_PART)
    chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
    return _raw(url, head, [first, *[chunk] * (most // len(chunk))])


def png_of(width: int, height: int, mode: str = "1") -> bytes:
    """A flat PNG: tiny file, ``width`` x ``height`` pixels to decode."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (width, height), 0 if mode == "1" else (90, 140, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(url: str, name: str, content: bytes, source: str = ATTACKER) -> tuple[int, float, int]:
    started = time.perf_counter()
    with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=120) as client:
        response = client.post(f"{url}/predict", files={"photo": (name, content)})
    return response.status_code, round(time.perf_counter() - started, 2), len(content)


def abuse(url: str, pid: int, photos: list[Path], requests: int = 200, concurrency: int = 16) -> dict:
    """Bounded abuse of a running service while ``requests`` good uploads go ``concurrency`` at a time:
    4 stalled bodies, 4 slow-loris headers, 2 chunked floods (32 MiB each at most), 4 decode bombs (49
    megapixels in a few KB) and 2 large photos within the pixel budget (20 megapixels). Per kind: the
    statuses (0: closed without an answer), the longest seconds, the most bytes the service read; the
    good uploads' latencies; the service's memory before, after (2 s later) and at its peak."""
    bomb, large = png_of(7000, 7000), png_of(4000, 5000, "RGB")
    attacks = {
        "stalled_body": [lambda: slow_body(url)] * 4,
        "slow_headers": [lambda: slow_headers(url)] * 4,
        "chunked_flood": [lambda: chunked_flood(url)] * 2,
        "decode_bomb": [lambda: upload(url, "bomb.png", bomb)] * 4,
        "large_photo": [lambda: upload(url, "large.png", large)] * 2,
    }
    for number in range(WARM_UP):
        upload(url, photos[number % len(photos)].name, photos[number % len(photos)].read_bytes(), "127.0.0.1")
    before = process_memory(pid)["VmRSS"]
    with ThreadPoolExecutor(sum(map(len, attacks.values()))) as pool:
        running = {kind: [pool.submit(attack) for attack in calls] for kind, calls in attacks.items()}
        good = load(url, photos, requests, concurrency, warm_up=0)
        outcome = {kind: [future.result() for future in futures] for kind, futures in running.items()}
    time.sleep(2)
    memory = process_memory(pid)
    report = {
        kind: {
            "statuses": sorted({status for status, _, _ in results}),
            "max_seconds": max(seconds for _, seconds, _ in results),
            "max_bytes_sent": max(sent for _, _, sent in results),
        }
        for kind, results in outcome.items()
    }
    health = httpx.get(f"{url}/health", timeout=10).status_code
    memory_mb = {"before": before, "after": memory["VmRSS"], "peak": memory["VmHWM"]}
    return {"attacks": report, "good_uploads": good, "health_after": health, "memory_mb": memory_mb}
