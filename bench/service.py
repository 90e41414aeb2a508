"""Latency of ``starrec serve`` under a bounded load, and a screenshot of its page.

    python bench/service.py [--model models/model.keras] [--requests 200] [--concurrency 8]
                            [--screenshot docs/serve-page.png]

A real service process on a free port of 127.0.0.1; ``--requests`` uploads of the photos in
data/raw (as a user would send them), ``--concurrency`` at a time, after 5 warm-up requests.
Reports the latency percentiles (ms) and requests/s, then the same service under a bounded
abuse (:func:`abuse`, default flags); ``make bench`` writes them under ``service`` in
bench/results.json. The screenshot (Debian's headless chromium) shows the page
after one upload.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the service client the tests use too

from serving import abuse, chromium_driver, load, start_service  # noqa: E402


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
            result["abuse"] = abuse(url, process.pid, photos)
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
