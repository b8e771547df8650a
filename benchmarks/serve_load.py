"""Load on `anogan serve`, with micro-batching on and off: latency, throughput, errors and memory.

    python benchmarks/serve_load.py --model runs/recommended/mnist_class3_seed0_recommended \
        --data ../shared/data/mnist.npz [--ray-replicas 2]

For each mode a server is started on loopback (``anogan serve``, the bundle's recipe), and
``--clients`` concurrent clients each post ``--images`` MNIST test images as PNGs per request, one
request after another, for ``--seconds`` seconds. Records requests, errors, images/s, p50 and p95
latency and the server's peak resident memory (VmHWM), and the ratio of images/s with micro-batching
on to off. With ``--ray-replicas N`` a third mode serves through Ray Serve (``--engine ray``, N
replicas, batching on); its memory is the sum of the replicas' peaks. The clients run in this process, on the same machine: they take CPU the server could use.
Writes ``benchmarks/results/serve_load.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from anogan.data.datasets import load_dataset
from anogan.storage import write_json_atomic, write_text_atomic

MAX_CLIENTS, MAX_SECONDS = 64, 300


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _load(base: str, requests: list[list[tuple]], clients: int, seconds: float) -> dict:
    import httpx

    latencies, errors, images = [], 0, 0
    stop_at = time.perf_counter() + seconds

    async def client(number: int, session: httpx.AsyncClient) -> None:
        nonlocal errors, images
        turn = number
        while time.perf_counter() < stop_at:
            files = requests[turn % len(requests)]
            turn += clients
            started = time.perf_counter()
            try:
                answer = await session.post(f"{base}/v1/score", files=files, timeout=60)
                ok = answer.status_code == 200 and not any(r["error"] for r in answer.json()["results"])
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok
            images += len(files) if ok else 0

    started = time.perf_counter()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=clients)) as session:
        await asyncio.gather(*(client(n, session) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, "images_per_second": round(images / elapsed, 1),
            "p50_seconds": round(float(np.percentile(latencies, 50)), 3),
            "p95_seconds": round(float(np.percentile(latencies, 95)), 3)}


def run_mode(model: str, batching: bool, requests, clients: int, seconds: float, replicas: int = 0) -> dict:
    from anogan.serve.process import ServerProcess

    args = ["--model", model] + ([] if batching else ["--no-batching"])
    if replicas:
        args += ["--engine", "ray", "--replicas", str(replicas)]
    with ServerProcess(args) as server:
        result = asyncio.run(_load(server.base_url, requests, clients, seconds))
        if replicas:
            from anogan.serve.ray_serve import local_replica_pids

            result["server_peak_rss_mb"] = round(sum(_peak_rss_mb(pid) for pid in local_replica_pids()), 1)
        else:
            result["server_peak_rss_mb"] = round(_peak_rss_mb(server.pid), 1)
    mode = f"ray-{replicas}" if replicas else "local"
    return {"engine": mode, "micro_batching": batching, **result, "server_exit_code": server.exit_code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="an MNIST .npz (the posted images are its test images)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--images", type=int, default=8, help="images per request (default 8)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--ray-replicas", type=int, default=0, metavar="N",
                        help="also measure Ray Serve with N replicas (default: not)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serve_load.json"))
    args = parser.parse_args()
    clients, seconds = min(args.clients, MAX_CLIENTS), min(args.seconds, MAX_SECONDS)
    test = load_dataset("mnist", args.data).x_test[:1024]
    requests = [[("files", (f"{i + j}.png", _png(test[i + j]), "image/png")) for j in range(args.images)]
                for i in range(0, len(test) - args.images, args.images)]
    modes = [run_mode(args.model, batching, requests, clients, seconds) for batching in (True, False)]
    if args.ray_replicas:
        modes.append(run_mode(args.model, True, requests, clients, seconds, args.ray_replicas))
    report = {"model": args.model, "clients": clients, "images_per_request": args.images, "seconds": seconds,
              "modes": modes, "throughput_ratio_on_to_off": round(modes[0]["images_per_second"]
                                                                  / max(modes[1]["images_per_second"], 1e-9), 2),
              "command": " ".join(["python", "benchmarks/serve_load.py", *sys.argv[1:]])}
    write_json_atomic(args.out, report)
    rows = ["| engine | micro-batching | requests | errors | images/s | p50 (s) | p95 (s) | server peak RSS (MB) |",
            "|---|---|---|---|---|---|---|---|"]
    rows += [f"| {m['engine']} | {'on' if m['micro_batching'] else 'off'} | {m['requests']} | {m['errors']} | "
             f"{m['images_per_second']} | {m['p50_seconds']} | {m['p95_seconds']} | {m['server_peak_rss_mb']} |"
             for m in modes]
    write_text_atomic(args.out.with_suffix(".md"), "\n".join(rows) + f"\n\nimages/s ratio on/off: "
                      f"{report['throughput_ratio_on_to_off']} ({clients} clients, {args.images} PNGs per request, "
                      f"{seconds:g} s each)\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
