"""Are inputs from another domain flagged at the operating threshold, not only ranked higher?

    python benchmarks/domain_shift.py --runs runs/bench/mnist_class0_seed0 runs/bench/mnist_class1_seed0 \
        --fashion ../shared/data/fashion_mnist.npz

Builds a seeded set of far-off 28x28 images (uniform noise, Gaussian noise,
blank and white images, filled shapes, printed letters, inverted digits, and
Fashion-MNIST test images when ``--fashion`` is given), scores them with
each candidate of ``benchmarks/dev_sweep.py`` named in ``--candidates``,
calibrated as the product calibrates (split-conformal, 1 % false-positive
rate, on the bundle's normal validation images), and writes the share of
each kind that is flagged to ``benchmarks/results/domain_shift.json`` (and,
as a table of means over the bundles, to the same name ending in ``.md``),
with the share of each printed letter that is flagged (is a letter that
passes one that looks like the normal digit?); for standardised inversion
scores it also records each term's median per kind.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from anogan.artifacts import write_json_atomic, write_text_atomic
from anogan.data import load_dataset
from anogan.pipeline import open_bundle
from anogan.scoring import Scorer
from anogan.thresholds import calibrate

sys.path.insert(0, str(Path(__file__).parent))
from dev_sweep import named_candidates  # noqa: E402

PER_KIND = 200
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def _drawn(draw_one, rng) -> tuple[np.ndarray, list]:
    """PER_KIND images drawn by ``draw_one`` and what it returned for each."""
    images, drawn = [], []
    for _ in range(PER_KIND):
        canvas = Image.new("L", (28, 28), 0)
        drawn.append(draw_one(ImageDraw.Draw(canvas), rng))
        images.append(np.asarray(canvas))
    return np.stack(images), drawn


def _shape(draw: ImageDraw.ImageDraw, rng) -> None:
    x0, y0 = rng.integers(2, 12, size=2)
    x1, y1 = rng.integers(16, 26, size=2)
    box = [int(x0), int(y0), int(x1), int(y1)]
    (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=int(rng.integers(128, 256)))


def _letter(draw: ImageDraw.ImageDraw, rng) -> str:
    font = ImageFont.load_default(size=22)
    letter = LETTERS[int(rng.integers(len(LETTERS)))]
    draw.text((int(rng.integers(3, 8)), int(rng.integers(0, 4))), letter, fill=255, font=font)
    return letter


def domain_set(fashion: str | None, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The far-off images by kind, and the letter printed in each image of "letters"."""
    rng = np.random.default_rng(seed)
    digits = load_dataset("mnist-5k").x_test
    # drawn in this order, from one generator: every kind's images are those of earlier results
    kinds = {
        "uniform noise": rng.integers(0, 256, (PER_KIND, 28, 28), dtype=np.uint8),
        "gaussian noise": np.clip(rng.normal(127, 60, (PER_KIND, 28, 28)), 0, 255).astype(np.uint8),
        "blank": np.zeros((PER_KIND, 28, 28), np.uint8) + rng.integers(0, 20, (PER_KIND, 1, 1), dtype=np.uint8),
        "white": np.full((PER_KIND, 28, 28), 255, np.uint8) - rng.integers(0, 20, (PER_KIND, 1, 1), dtype=np.uint8),
        "shapes": _drawn(_shape, rng)[0],
    }
    kinds["letters"], letter_names = _drawn(_letter, rng)
    kinds["inverted digits"] = 255 - digits[rng.choice(len(digits), PER_KIND, replace=False)]
    if fashion:
        clothes = load_dataset("fashion-mnist", fashion).x_test
        kinds["fashion-mnist"] = clothes[rng.choice(len(clothes), PER_KIND, replace=False)]
    return kinds, np.array(letter_names)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="model bundles")
    parser.add_argument("--fashion", help="Fashion-MNIST .npz (Keras layout) for its test images")
    parser.add_argument("--candidates", default="recommended,feature-knn",
                        help="recipes (recommended, document) or benchmarks/dev_sweep.py candidates, comma-separated")
    parser.add_argument("--out", default="benchmarks/results/domain_shift.json")
    args = parser.parse_args(argv)
    kinds, letter_names = domain_set(args.fashion)
    chosen = [c for name, c in named_candidates().items() if name in args.candidates.split(",")]
    report = {"per_kind": PER_KIND, "threshold": "split-conformal, false-positive rate 0.01, bundle validation images",
              "flagged": {}}
    for run in args.runs:
        bundle = open_bundle(run)
        for candidate in chosen:
            scorer = Scorer(bundle, candidate.method, candidate.settings)
            calibration = calibrate(scorer, save=False)
            verdicts = {kind: calibration.verdict(scorer.score(images)) for kind, images in kinds.items()}
            flagged = {kind: float(verdict.mean()) for kind, verdict in verdicts.items()}
            flagged["all kinds"] = float(np.mean(list(flagged.values())))
            report["flagged"].setdefault(candidate.name, {})[Path(run).name] = flagged
            report.setdefault("letters_flagged", {}).setdefault(candidate.name, {})[Path(run).name] = {
                letter: float(verdicts["letters"][letter_names == letter].mean()) for letter in np.unique(letter_names)}
            if scorer.term_stats is not None:
                report.setdefault("median_standardized_terms", {}).setdefault(candidate.name, {})[
                    Path(run).name] = median_terms(scorer, kinds)
            print(f"{Path(run).name} {candidate.name}: " + ", ".join(f"{k} {v:.0%}" for k, v in flagged.items()),
                  flush=True)
    write_json_atomic(args.out, report)
    table = flagged_table(report)
    write_text_atomic(Path(args.out).with_suffix(".md"), table)
    print(table)
    return 0


def median_terms(scorer: Scorer, kinds: dict[str, np.ndarray]) -> dict:
    """Per kind, the median of each standardised inversion term: which term lets a kind through."""
    stats = scorer.term_stats
    medians = {}
    for kind, images in kinds.items():
        terms = scorer.invert(images)
        medians[kind] = {name: round(float(np.median((getattr(terms, name) - mean) / std)), 2)
                         for name, (mean, std) in stats.items()}
    return medians


def flagged_table(report: dict) -> str:
    """% flagged per kind, mean over the bundles, one row per candidate (the README's table)."""
    candidates = report["flagged"]
    kinds = list(next(iter(next(iter(candidates.values())).values())))
    lines = [f"% flagged at the bundle's 1 % threshold, mean over {', '.join(next(iter(candidates.values())))} "
             "(written by benchmarks/domain_shift.py).", "",
             "| candidate | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for name, per_bundle in candidates.items():
        means = [100 * np.mean([flagged[kind] for flagged in per_bundle.values()]) for kind in kinds]
        lines.append(f"| {name} | " + " | ".join(f"{m:.0f}" for m in means) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
