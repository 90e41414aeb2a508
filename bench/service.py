"""Latency of ``starrec serve`` under a bounded load, and a screenshot of its page.

    python bench/service.py [--model models/model.keras] [--requests 200] [--concurrency 8]
                            [--screenshot docs/serve-page.png]

A real service process on a free port of 127.0.0.1; ``--requests`` uploads of the photos in
data/raw (as a user would send them), ``--concurrency`` at a time, after 5 warm-up requests.
Reports the latency percentiles (ms) and requests/s; ``make bench`` writes them under
``service`` in bench/results.json. The screenshot (Debian's headless chromium) shows the page
after one upload.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
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


def start_service(model: Path, log: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """``starrec serve --model model *options`` on a free port; (process, URL) once /health answers."""
    port = free_port()
    command = [sys.executable, "-m", "starrec.cli", "serve", "--model", str(model), "--port", str(port), *options]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"starrec serve did not start:\n{log.read_text()}")


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


def load(url: str, photos: list[Path], requests: int, concurrency: int) -> dict:
    """``requests`` uploads, ``concurrency`` at a time: latency percentiles in ms, requests/s, failures."""
    bodies = [(photo.name, photo.read_bytes()) for photo in photos]
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:

        def one(number: int) -> tuple[float, int]:
            name, content = bodies[number % len(bodies)]
            started = time.perf_counter()
            response = client.post(f"{url}/predict", files={"photo": (name, content)})
            return time.perf_counter() - started, response.status_code

        for number in range(WARM_UP):
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
        "requests_per_s": round(requests / elapsed, 1),
        "latency_ms": {f"p{q}": round(float(np.percentile(latencies, q)), 1) for q in (50, 90, 99)}
        | {"max": round(float(latencies.max()), 1)},
    }


def screenshot(url: str, photo: Path, out: Path) -> bool:
    """The page after uploading ``photo``, as a PNG at ``out``; False without chromium."""
    driver = chromium_driver()
    if driver is None:
        return False
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        driver.get(url)
        driver.find_element(By.ID, "photo").send_keys(str(photo.resolve()))
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "top-class"))
        out.parent.mkdir(parents=True, exist_ok=True)
        return driver.save_screenshot(str(out))
    finally:
        driver.quit()


def measure(model: Path, requests: int = 200, concurrency: int = 8, screenshot_path: Path | None = None) -> dict:
    """The load test on the photos of data/raw (run ``dvc repro`` first); optionally the screenshot."""
    every = sorted((ROOT / "data" / "raw").rglob("*.png"))
    photos = every[:: max(1, len(every) // 50)]  # about 50, of every class
    if not photos:
        raise RuntimeError("no photos in data/raw: run `dvc repro` first")
    with tempfile.TemporaryDirectory() as scratch:
        process, url = start_service(model, Path(scratch) / "serve.log")
        try:
            result = {"model": str(model), **load(url, photos, requests, concurrency)}
            if screenshot_path is not None:
                result["screenshot"] = str(screenshot_path) if screenshot(url, photos[0], screenshot_path) else None
        finally:
            process.terminate()
            process.wait(timeout=30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "model.keras")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    print(json.dumps(measure(args.model, args.requests, args.concurrency, args.screenshot), indent=2))


if __name__ == "__main__":
    main()
