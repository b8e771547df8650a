"""Rerun one benchmark result from scratch with its recorded command and compare the AUROC.

    python benchmarks/rerun.py benchmarks/results/mnist/test/recommended/class8_seed0.json

The recorded command runs again with a fresh ``--out`` (a temporary folder
unless ``--out`` is given), so nothing is reused: the GAN is trained again.
A command recorded before recipes existed named every setting that differed
from the defaults of then, which are the ``document`` recipe's; it runs with
``--recipe document``. A recipe can change after a result is recorded (a new
recommended recipe is frozen): every recorded training setting that differs
from the recipe's current one is named on the command line, so the rerun
trains what was trained then.
The comparison is appended to ``benchmarks/results/reruns.csv``.
"""

import argparse
import csv
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from anogan.experiments.benchmark import recorded_training
from anogan.scoring.recipes import RECIPES, TRAINING_FLAGS

TOLERANCE_POINTS = 0.5  # issue 29: a rerun matches its recorded AUROC within half a point
LOG = Path("benchmarks/results/reruns.csv")
LOG_COLUMNS = ("date", "result", "recorded_auroc", "rerun_auroc", "difference_points", "within_tolerance")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path, help="a result JSON written by anogan benchmark")
    parser.add_argument("--out", type=Path, help="folder for the rerun (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    recorded = json.loads(args.result.read_text())
    words = shlex.split(recorded["command"])
    if "--recipe" not in words:
        # written before recipes, against the defaults of then: the document's recipe and the paper's scoring
        words[2:2] = ["--recipe", "document"]
    words += pinned_training(recorded, words)
    out = args.out or Path(tempfile.mkdtemp(prefix="anogan-rerun-"))
    words[words.index("--out") + 1] = str(out)
    anogan = shutil.which("anogan") or str(Path(sys.executable).with_name("anogan"))
    try:
        subprocess.run([anogan, *words[1:]], check=True)
        # one result: its name is the recorded one, or for a command from before recipes the recipe's
        [produced] = out.glob("*/class*_seed*.json")
        rerun = json.loads(produced.read_text())
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    difference = 100 * abs(rerun["auroc"] - recorded["auroc"])
    row = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "result": str(args.result),
           "recorded_auroc": recorded["auroc"], "rerun_auroc": rerun["auroc"],
           "difference_points": round(difference, 4), "within_tolerance": difference <= TOLERANCE_POINTS}
    new_log = not LOG.is_file()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "a", newline="") as handle:
        writer = csv.DictWriter(handle, LOG_COLUMNS)
        if new_log:
            writer.writeheader()
        writer.writerow(row)
    print(f"recorded {100 * recorded['auroc']:.2f}, rerun {100 * rerun['auroc']:.2f}: "
          f"difference {difference:.2f} points ({'within' if row['within_tolerance'] else 'OUTSIDE'} ±{TOLERANCE_POINTS})")
    return 0 if row["within_tolerance"] else 1


def pinned_training(recorded: dict, words: list[str]) -> list[str]:
    """Flags for the recorded training settings that the recorded command leaves to a recipe that now differs."""
    recipe = RECIPES.get(words[words.index("--recipe") + 1]) if "--recipe" in words else None
    if recipe is None:
        return []
    pinned = []
    for name, trained in recorded_training(recorded).items():
        flag = TRAINING_FLAGS[name][0]
        if flag not in words and trained != getattr(recipe.training, name):
            pinned += [flag, str(trained)]
    return pinned


if __name__ == "__main__":
    raise SystemExit(main())
