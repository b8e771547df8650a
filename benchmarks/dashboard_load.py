"""Load on the dashboard: N concurrent headless-Chromium sessions, each uploading images to score.

    python benchmarks/dashboard_load.py --runs-dir runs/bench --sessions 1 8 --method feature-knn

One dashboard server is started on localhost and warmed up by one session
(which builds the shared scorer); then, for each session count, every
session opens the score page, picks the method and uploads the same five
sample images at once, and the time from upload to five scores on screen is
its latency. The server's resident memory (with its children) is sampled every
0.2 s. Writes ``benchmarks/results/dashboard_load.json``. Needs Debian's
Chromium and the ``playwright`` package, as the browser test does.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from anogan.dashboard.browser_check import CHROMIUM, CHROMIUM_ARGS, serve_dashboard

ROOT = Path(__file__).resolve().parents[1]

SAMPLES = sorted((ROOT / "data" / "samples").glob("*/*.png"))[:5]
FINISHED = "[data-testid='stApp'][data-test-script-state='notRunning'] h1"
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` and its children, in KiB (Linux /proc)."""
    total = 0
    for candidate in [pid] + [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


async def _session(browser, url: str, method: str, timeout_ms: int) -> dict:
    page = await browser.new_page(viewport={"width": 1280, "height": 1600})
    await page.goto(url)
    await page.wait_for_selector(FINISHED, timeout=timeout_ms)
    if method:
        await page.get_by_text(method, exact=True).click()
        # the click starts a rerun; an upload made before it has begun is lost, so wait for it to begin
        try:
            await page.wait_for_selector(RUNNING, timeout=3000)
        except Exception:
            pass  # the rerun was over before we looked
        await page.wait_for_selector(FINISHED, timeout=timeout_ms)
    started = time.perf_counter()
    await page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files([str(p) for p in SAMPLES])
    try:
        await page.wait_for_function(
            f"document.querySelectorAll(\"[data-testid='stMetricLabel']\").length >= {2 * len(SAMPLES)}",
            timeout=timeout_ms)
    except Exception:
        screenshot = Path(tempfile.gettempdir()) / f"load_failure_{id(page)}.png"
        await page.screenshot(path=str(screenshot), full_page=True)
        print(f"session timed out; its page is in {screenshot}", file=sys.stderr)
        raise
    latency = time.perf_counter() - started
    scores = await page.locator("[data-testid='stMetricLabel']").all_inner_texts()
    await page.close()
    return {"latency_s": latency, "scores_shown": sum(text.strip() == "score" for text in scores)}


async def _load(url: str, sessions: int, method: str, timeout_ms: int, server_pid: int) -> tuple[list[dict], int]:
    """The sessions' results and the server's peak resident memory (KiB) while they ran."""
    from playwright.async_api import async_playwright

    peak = 0

    async def watch_memory():
        nonlocal peak
        while True:
            peak = max(peak, _rss_kib(server_pid))
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch_memory())
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        results = await asyncio.gather(*[_session(browser, url, method, timeout_ms) for _ in range(sessions)])
        await browser.close()
    watcher.cancel()
    return list(results), peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, required=True, help="runs folder holding at least one bundle")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--method", default="feature-knn", help="method chosen on the score page")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dashboard_load.json")
    args = parser.parse_args(argv)
    report = {"method": args.method, "images_per_session": len(SAMPLES), "runs": []}
    with serve_dashboard(args.runs_dir) as (url, process):
        idle = _rss_kib(process.pid)
        # one session first builds the shared scorer, so the timed sessions measure a warm dashboard
        warm_up = asyncio.run(_load(url, 1, args.method, 600_000, process.pid))[0][0]["latency_s"]
        report["warm_up_session_s"] = round(warm_up, 2)
        for sessions in args.sessions:
            results, peak = asyncio.run(_load(url, sessions, args.method, 600_000, process.pid))
            latencies = np.array([r["latency_s"] for r in results])
            run = {"sessions": sessions, "all_scored": all(r["scores_shown"] == len(SAMPLES) for r in results),
                   "latency_p50_s": round(float(np.percentile(latencies, 50)), 2),
                   "latency_p95_s": round(float(np.percentile(latencies, 95)), 2),
                   "server_rss_start_mib": round(idle / 1024, 1), "server_rss_peak_mib": round(peak / 1024, 1)}
            report["runs"].append(run)
            print(json.dumps(run), flush=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
