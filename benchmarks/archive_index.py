"""Index the archived benchmark results: every candidate name of before recipes, with its full settings.

    python benchmarks/archive_index.py

The result files under ``benchmarks/results/archive/`` are named by how each
candidate differed from the defaults of its day (the document's training,
the paper's scoring), so a name's meaning cannot be read off today's
defaults. This writes ``benchmarks/results/archive/index.csv``: one row per
(candidate, dataset, split) with the number of result files, the training and
scoring settings recorded inside them, and the recipe whose settings they
are, where one is (``recommended`` is the fourth frozen configuration).
The files themselves are unchanged; ``benchmarks/rerun.py`` reruns any of them.
"""

import argparse
import csv
import json
from pathlib import Path

from anogan.scoring.recipes import RECIPES
from anogan.scoring.settings import ScoringSettings

ARCHIVE = Path("benchmarks/results/archive")
TRAINING = ("epochs", "batch_size", "generator_ema", "discriminator_ema", "learning_rate", "beta_1", "precision",
            "encoder_epochs")
# the defaults of before recipes, for records that left a setting out because it had its default
DEFAULTS_THEN = {"generator_ema": 0.0, "discriminator_ema": 0.0, "learning_rate": 1e-4, "beta_1": 0.9,
                 "precision": "float32", "encoder_epochs": 30}
COLUMNS = ("candidate", "dataset", "split", "files", "method", "same_as_recipe", *TRAINING, "scoring", "example")


def same_recipe(record: dict, training: dict) -> str:
    """The recipe whose training and scoring the record's are exactly (ignoring the encoder, which neither uses)."""
    for name, recipe in RECIPES.items():
        wanted = recipe.training
        if (training["epochs"], training["batch_size"], training["generator_ema"], training["discriminator_ema"],
                training["learning_rate"], training["beta_1"], training["precision"]) != (
                wanted.epochs, wanted.batch_size, wanted.generator_ema, wanted.discriminator_ema,
                wanted.learning_rate, wanted.beta_1, "float32"):
            continue
        scored = ScoringSettings.from_dict(record.get("settings", {}))
        base = recipe.settings_for(record["method"])
        if scored.relevant_to(record["method"]) == base.relevant_to(record["method"]):
            return name if record["method"] == recipe.method else f"{name} ({record['method']})"
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=Path, default=ARCHIVE)
    args = parser.parse_args(argv)
    rows = {}
    for path in sorted(args.archive.rglob("*_class*_seed*_*.json")):
        record = json.loads(path.read_text())
        training = {key: record.get(key, DEFAULTS_THEN.get(key)) for key in TRAINING}
        key = (record.get("candidate", record["method"]), record["dataset"], record.get("split", "test"))
        if key not in rows:
            rows[key] = {"candidate": key[0], "dataset": key[1], "split": key[2], "files": 0,
                         "method": record["method"], "same_as_recipe": same_recipe(record, training), **training,
                         "scoring": json.dumps(record.get("settings", {}), sort_keys=True),
                         "example": str(path.relative_to(args.archive))}
        rows[key]["files"] += 1
    with open(args.archive / "index.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows[key] for key in sorted(rows))
    print(f"{len(rows)} candidates in {args.archive / 'index.csv'}; "
          f"{sum(1 for r in rows.values() if r['same_as_recipe'])} with a recipe's settings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
