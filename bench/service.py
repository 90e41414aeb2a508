"""Latency of ``starrec serve`` under a bounded load, and a screenshot of its page.

    python bench/service.py [--model models/model.keras] [--requests 200] [--concurrency 8]
                            [--screenshot docs/serve-page.png]

A real service process on a free port of 127.0.0.1; ``--requests`` uploads of the photos in
data/raw (as a user would send them), ``--concurrency`` at a time, after 5 warm-up requests.
Reports the latency percentiles (ms) and requests/s, then the same service under a bounded
abuse (:func:`abuse`, default flags); ``make bench`` writes them under ``service`` in
bench/results.json. The screenshot (Debian's headless chromium) shows the page
after one upload.

``--lean`` compares the ways to serve (``service.lean`` in bench/results.json): model.keras and
model.onnx from the project's venv, and model.onnx from a new venv with only ``starrec[serve]``
(:func:`serving.lean_venv`): cold start from the command to the first answer, resident memory after
the load, the install's size, and latency at ``--concurrency``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the service client the tests use too

from serving import abuse, chromium_driver, lean_venv, load, process_memory, start_service  # noqa: E402


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


def sample_photos() -> list[Path]:
    """About 50 photos of data/raw, of every class (run ``dvc repro`` first)."""
    every = sorted((ROOT / "data" / "raw").rglob("*.png"))
    if not every:
        raise RuntimeError("no photos in data/raw: run `dvc repro` first")
    return every[:: max(1, len(every) // 50)]


def measure(model: Path, requests: int = 200, concurrency: int = 8, screenshot_path: Path | None = None) -> dict:
    """The load test on the photos of data/raw (run ``dvc repro`` first); optionally the screenshot."""
    photos = sample_photos()
    with tempfile.TemporaryDirectory() as scratch:
        process, url = start_service(model, Path(scratch) / "serve.log")
        try:
            result = {"model": str(model), **load(url, photos, requests, concurrency)}
            result["abuse"] = abuse(url, process.pid, photos)
            if screenshot_path is not None:
                result["screenshot"] = str(screenshot_path) if screenshot(url, photos[0], screenshot_path) else None
        finally:
            process.terminate()
            process.wait(timeout=30)
    return result


def site_packages_mb(python: Path) -> float:
    """The size of the venv's site-packages (what its install put on disk), in MB."""
    (lib,) = (python.parent.parent / "lib").glob("python3*/site-packages")
    return round(sum(f.stat().st_size for f in lib.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20)


def serve_once(model: Path, python: Path, photos: list[Path], requests: int, concurrency: int, log: Path) -> dict:
    """Cold start (from the command to the first /predict answer), latency under load, memory after it."""
    started = time.perf_counter()
    process, url = start_service(model, log, python=(python,))
    try:
        first = httpx.post(f"{url}/predict", files={"photo": (photos[0].name, photos[0].read_bytes())}, timeout=60)
        cold = time.perf_counter() - started
        assert first.status_code == 200, first.text
        result = {"cold_start_s": round(cold, 2), **load(url, photos, requests, concurrency)}
        return result | {"memory_mb": process_memory(process.pid), "install_mb": site_packages_mb(python)}
    finally:
        process.terminate()
        process.wait(timeout=30)


def lean(requests: int = 200, concurrency: int = 8) -> dict:
    """model.keras and model.onnx in the project's venv, and model.onnx from a ``starrec[serve]`` venv."""
    photos = sample_photos()
    with tempfile.TemporaryDirectory() as scratch:
        light = lean_venv(Path(scratch) / "venv")
        paths = {
            "keras_full_install": (ROOT / "models" / "model.keras", Path(sys.executable)),
            "onnx_full_install": (ROOT / "models" / "export" / "model.onnx", Path(sys.executable)),
            "onnx_serve_extra": (ROOT / "models" / "export" / "model.onnx", light),
        }
        return {
            name: {
                "model": str(model.relative_to(ROOT)),
                **serve_once(model, python, photos, requests, concurrency, Path(scratch) / f"{name}.log"),
            }
            for name, (model, python) in paths.items()
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "model.keras")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--lean", action="store_true", help="compare the TensorFlow and the starrec[serve] paths")
    args = parser.parse_args()
    if args.lean:
        print(json.dumps(lean(args.requests, args.concurrency), indent=2))
    else:
        print(json.dumps(measure(args.model, args.requests, args.concurrency, args.screenshot), indent=2))


if __name__ == "__main__":
    main()
