"""How long a new process takes to its first score, cold (the scorer's state built) and warm (taken from the bundle).

    python benchmarks/warm_start.py --model runs/recommended/mnist_class3_seed0_recommended \
        --data ../shared/data/mnist.npz

On a copy of the bundle: loads it and prepares the scorer of its recipe twice, each time as a new
process would (a fresh load of the bundle), and scores the first N test images. The first time
builds the pruned latent bank and stores it with the bundle; the second takes it from there. Writes
the two times and whether the scores are equal to ``benchmarks/results/warm_start.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from anogan.data.datasets import load_dataset
from anogan.experiments.pipeline import prepare_scorer
from anogan.gan.bundle import open_bundle
from anogan.scoring.recipes import scoring_choice
from anogan.storage import write_json_atomic


def first_scores(model: Path, images: np.ndarray) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    bundle = open_bundle(model)
    choice = scoring_choice(bundle)
    scorer, _ = prepare_scorer(bundle, choice.method, choice.settings, progress=False)
    scorer.score(images[:1])
    seconds = time.perf_counter() - started
    return seconds, scorer.score(images).score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/warm_start.json"))
    args = parser.parse_args()
    images = load_dataset("mnist", args.data).x_test[: args.images]
    work = Path(tempfile.mkdtemp()) / "bundle"
    shutil.copytree(args.model, work)
    for stale in work.glob("scorer_state_*.npz"):  # a cold start, whatever the bundle given holds
        stale.unlink()
    metadata = json.loads((work / "bundle.json").read_text())
    metadata["files"] = {k: v for k, v in metadata["files"].items() if not k.startswith("scorer_state_")}
    metadata.pop("calibration", None)
    (work / "bundle.json").write_text(json.dumps(metadata))
    cold, cold_scores = first_scores(work, images)
    warm, warm_scores = first_scores(work, images)
    shutil.rmtree(work.parent)
    report = {"model": str(args.model), "images": len(images),
              "cold_seconds_to_first_score": round(cold, 2), "warm_seconds_to_first_score": round(warm, 2),
              "max_abs_score_difference": float(np.max(np.abs(cold_scores - warm_scores))),
              "scores_equal_to_float32": bool(np.allclose(cold_scores, warm_scores, rtol=1e-5, atol=1e-6)),
              "command": f"python benchmarks/warm_start.py --model {args.model} --data {args.data}"}
    write_json_atomic(args.out, report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
