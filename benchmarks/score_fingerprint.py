"""Scores of one bundle by every method it supports, saved to compare two versions of the package.

A refactoring must not change a number: run this with the old and the new
package on the same bundle and compare the two files (``--compare``). Only
the package's top-level names are used, which every version since the
recipes has, so the script runs unchanged against both.

    PYTHONPATH=OLD_TREE python benchmarks/score_fingerprint.py --model B --data mnist.npz --out old.npz
    python benchmarks/score_fingerprint.py --model B --data mnist.npz --out new.npz --compare old.npz
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

import anogan

# the recommended recipe's scoring settings, written out so that both versions score with the same ones
RECOMMENDED = dict(lam=0.7, steps=0, latent_bank=16384, prune_bank=True, residual="ink",
                   feature_distance="cosine", standardize=True, critic_weight=0.5)
CASES = {
    "anogan-recommended": ("anogan", RECOMMENDED),
    "anogan-paper-20-steps": ("anogan", dict(steps=20)),
    "encoder": ("encoder", {}),
    "hybrid": ("hybrid", dict(hybrid_steps=10, standardize=True, critic_weight=0.5)),
    "feature-knn": ("feature-knn", {}),
}


def fingerprint(model: Path, data: str, n: int) -> dict[str, np.ndarray]:
    images = anogan.load_dataset("mnist", data).x_test[:n]
    work = Path(tempfile.mkdtemp()) / "bundle"
    shutil.copytree(model, work)  # the encoder is trained into a copy; the bundle given stays as it was
    bundle = anogan.load_bundle(work)
    if bundle.encoder is None:
        bundle = anogan.train_encoder(bundle, epochs=2, seed=0, progress=False)
    found = {}
    for name, (method, settings) in CASES.items():
        batch = anogan.Scorer(bundle, method, anogan.ScoringSettings(**settings)).score(images)
        found[f"{name}:score"], found[f"{name}:residual"] = batch.score, batch.residual_score
    shutil.rmtree(work.parent)
    return found


def compare(new: dict, old_path: Path) -> dict:
    with np.load(old_path) as old:
        return {key: {"max_abs_difference": float(np.max(np.abs(new[key].astype(np.float64) - old[key]))),
                      "equal_to_float32": bool(np.allclose(new[key], old[key], rtol=1e-5, atol=1e-6))}
                for key in sorted(new)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", required=True, help="an MNIST .npz")
    parser.add_argument("--images", type=int, default=256, help="first N test images (default 256)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="an earlier fingerprint to compare with")
    args = parser.parse_args()
    found = fingerprint(args.model, args.data, args.images)
    np.savez(args.out, **found)
    if args.compare:
        report = compare(found, args.compare)
        print(json.dumps(report, indent=1))
        if not all(r["equal_to_float32"] for r in report.values()):
            raise SystemExit("scores changed")


if __name__ == "__main__":
    main()
