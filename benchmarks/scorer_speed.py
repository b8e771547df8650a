"""Images per second of each scoring method on one bundle, in one process, on the same images.

    python benchmarks/scorer_speed.py --model runs/recommended/mnist_class3_seed0_recommended \
        --data ../shared/data/mnist.npz

On a copy of the bundle (an encoder is trained into it for two epochs if it has none: its speed, not
its quality, is measured): every method scores the MNIST test images in batch-job chunks after a
warm-up call, the recommended recipe's latent inversion with the recipe's settings, the others with
their defaults, and each ``--variant`` ("NAME FLAGS": the recommended recipe's latent inversion with
some scoring settings replaced, as ``anogan benchmark --variant``). Ratios are what to read. Writes
``benchmarks/results/scorer_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from anogan.cli.options import variant_settings
from anogan.data.datasets import load_dataset
from anogan.experiments.pipeline import prepare_scorer
from anogan.gan.bundle import open_bundle
from anogan.scoring.encoder_training import train_encoder
from anogan.scoring.recipes import get_recipe
from anogan.scoring.settings import ScoringSettings
from anogan.storage import write_json_atomic

DEFAULT_OUT = Path("benchmarks/results/scorer_speed.json")
DEFAULT_IMAGES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--variant", action="append", default=[], metavar='"NAME FLAGS"',
                        help='the recommended latent inversion with some scoring settings replaced (repeatable)')
    args = parser.parse_args()
    images = load_dataset("mnist", args.data).x_test[: args.images]
    work = Path(tempfile.mkdtemp()) / "bundle"
    shutil.copytree(args.model, work)
    bundle = open_bundle(work)
    if bundle.encoder is None:
        bundle = train_encoder(bundle, epochs=2, progress=False)
    contenders = {"encoder": ("encoder", ScoringSettings()),
                  "recommended (anogan)": ("anogan", get_recipe("recommended").scoring),
                  "feature-knn": ("feature-knn", ScoringSettings())}
    for text in args.variant:
        name, settings = variant_settings(get_recipe("recommended").scoring, text)
        contenders[name] = ("anogan", settings)
    measured = {}
    for name, (method, settings) in contenders.items():
        scorer, _ = prepare_scorer(bundle, method, settings, progress=False)
        scorer.score(images[: scorer.chunk_size])  # traced and warm
        started = time.perf_counter()
        for start in range(0, len(images), scorer.chunk_size):
            scorer.score(images[start : start + scorer.chunk_size])
        measured[name] = round(len(images) / (time.perf_counter() - started), 1)
    shutil.rmtree(work.parent)
    report = {"model": str(args.model), "images": len(images), "images_per_second": measured,
              "recommended_to_encoder": round(measured["recommended (anogan)"] / measured["encoder"], 2),
              "command": f"python benchmarks/scorer_speed.py --model {args.model} --data {args.data}"
              + (f" --images {args.images}" if args.images != DEFAULT_IMAGES else "")
              + (f" --out {args.out}" if args.out != DEFAULT_OUT else "")
              + "".join(f' --variant "{text}"' for text in args.variant)}
    write_json_atomic(args.out, report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
