"""Are inputs from another domain flagged at the operating threshold, not only ranked higher?

    python benchmarks/domain_shift.py --runs runs/bench/mnist_class0_seed0 runs/bench/mnist_class1_seed0 \
        --fashion ../shared/data/fashion_mnist.npz \
        --variant "aligned --residual aligned"

Builds a seeded set of far-off 28x28 images (uniform noise, Gaussian noise,
blank and white images, filled shapes, printed letters, inverted digits, and
Fashion-MNIST test images when ``--fashion`` is given), scores them with
each candidate named in ``--candidates`` (:func:`~anogan.experiments.benchmark.named_candidate`)
and each ``--variant`` (the first candidate with some scoring settings replaced, as ``anogan benchmark --variant``),
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

from anogan.cli.options import variant_settings
from anogan.experiments.benchmark import Candidate, named_candidate
from anogan.experiments.far_off import PER_KIND, domain_set
from anogan.gan.bundle import open_bundle
from anogan.scoring.calibration import calibrate
from anogan.scoring.scorer import Scorer
from anogan.storage import write_json_atomic, write_text_atomic


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="model bundles")
    parser.add_argument("--fashion", help="Fashion-MNIST .npz (Keras layout) for its test images")
    parser.add_argument("--candidates", default="recommended,feature-knn",
                        help="comma-separated: recipes (recommended, document), RECIPE-METHOD, or methods with their "
                        "defaults")
    parser.add_argument("--variant", action="append", default=[], metavar='"NAME FLAGS"',
                        help='the first candidate with some scoring settings replaced, e.g. "aligned --residual '
                        'aligned" (repeatable)')
    parser.add_argument("--out", default="benchmarks/results/domain_shift.json")
    args = parser.parse_args(argv)
    kinds, letter_names = domain_set(args.fashion)
    chosen = [named_candidate(name) for name in args.candidates.split(",") if name]
    for text in args.variant:
        name, settings = variant_settings(chosen[0].settings, text)
        chosen.append(Candidate(name, chosen[0].method, settings))
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
        medians[kind] = {name: round(float(np.median((getattr(terms, name) - fitted[0]) / fitted[1])), 2)
                         for name, fitted in stats.items()}
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
