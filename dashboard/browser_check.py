"""Open every dashboard page in headless Chromium and fail on any Streamlit exception.

    python dashboard/browser_check.py --runs-dir runs --screenshots docs \
        --upload data/samples/0/mnist5k_test_0000.png data/samples/7/*.png

Used by the browser test and to make the README's screenshots. Needs
Debian's Chromium (``apt-get install chromium``) and the ``playwright``
Python package; it never downloads a browser.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional, Sequence

from anogan.cli.dashboard import streamlit_settings
from anogan.serve.process import free_port

APP = Path(__file__).resolve().parent / "app.py"
CHROMIUM = "/usr/bin/chromium"
PAGES = {"score": "", "results": "results", "training": "training", "about": "about"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def serve_dashboard(runs_dir: Path, port: Optional[int] = None,
                    timeout: float = 120) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``streamlit run dashboard/app.py`` headless on localhost; yield its URL and the server process."""
    port = port or free_port()
    env = {**os.environ, "ANOGAN_RUNS_DIR": str(Path(runs_dir).resolve())}
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               *streamlit_settings("127.0.0.1", port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.5)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def check_pages(url: str, screenshots: Optional[Path] = None, uploads: Sequence[Path] = (),
                timeout_ms: int = 180_000) -> dict[str, str]:
    """Visit every page; return {page: title}. Raises AssertionError on a Streamlit exception or on any request
    the pages make to another host than the dashboard's (the dashboard makes no outside requests).

    ``uploads`` are given to the score page's file uploader, as a user would.
    """
    from urllib.parse import urlsplit

    from playwright.sync_api import sync_playwright

    finished = "[data-testid='stApp'][data-test-script-state='notRunning'] h1"
    titles = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 2000})
        outside = []
        own_host = urlsplit(url).hostname
        page.on("request", lambda request: outside.append(request.url)
                if urlsplit(request.url).scheme in ("http", "https", "ws", "wss")
                and urlsplit(request.url).hostname != own_host else None)
        for name, path in PAGES.items():
            page.goto(f"{url}/{path}")
            page.wait_for_selector(finished, timeout=timeout_ms)
            if name == "score" and uploads:
                page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files([str(u) for u in uploads])
                page.wait_for_selector("[data-testid='stMetric'], [data-testid='stAlert']", timeout=timeout_ms)
                page.wait_for_selector(finished, timeout=timeout_ms)
            page.wait_for_timeout(1500)  # let charts and images finish drawing
            exceptions = page.locator("[data-testid='stException']")
            if exceptions.count():
                raise AssertionError(f"page {name!r} shows an exception: {exceptions.first.inner_text()[:500]}")
            titles[name] = page.locator("h1").first.inner_text()
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshots / f"dashboard_{name}.png"), full_page=True)
        browser.close()
    if outside:
        raise AssertionError(f"the pages requested {len(outside)} outside URL(s), e.g. {outside[0]}")
    return titles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--screenshots", type=Path, help="save a full-page PNG of each page here")
    parser.add_argument("--upload", type=Path, nargs="*", default=[], help="files to upload on the score page")
    args = parser.parse_args()
    with serve_dashboard(Path(args.runs_dir)) as (url, _):
        for name, title in check_pages(url, args.screenshots, args.upload).items():
            print(f"{name}: '{title}' rendered without exception")
    return 0


if __name__ == "__main__":
    sys.exit(main())
