"""The one-class benchmark: every normal class x seed x method, resumable.

For each (normal class, seed) a DCGAN is trained on that class's training
images only (the last epoch is used: nothing is selected on the test set),
then each method scores the official test split (``anogan``: a fixed seeded
subset, since 500 inversion steps per image are slow) and its AUROC, AUPRC,
F1-max, training time and scoring throughput are written to one JSON file
per (dataset, class, seed, method). A rerun skips finished files, so the
table can be built over several sittings; :func:`summarize` then writes
``summary.csv``, ``summary.md`` (mean ± std over seeds) and ``summary.png``.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from anogan.artifacts import write_json_atomic, write_text_atomic
from anogan.errors import AnoganError

RESULT_FIELDS = ("dataset", "normal_class", "seed", "method", "auroc", "auprc", "f1_max", "n_test",
                 "train_seconds", "encoder_seconds", "score_images_per_second", "epochs", "command")


def parse_classes(text: str) -> list[int]:
    """``"0-9"``, ``"1,3,5"`` or ``"0-2,7"`` to a sorted list of class indices."""
    classes = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            classes.update(range(int(low), int(high) + 1) if dash else [int(low)])
        except ValueError:
            raise AnoganError(f"cannot read classes {text!r}; use e.g. 0-9 or 1,3,5") from None
    if not classes:
        raise AnoganError("no classes given")
    return sorted(classes)


@dataclass(frozen=True)
class BenchmarkConfig:
    dataset: str
    data: Optional[str]
    epochs: int
    encoder_epochs: int = 30
    batch_size: int = 256
    anogan_limit: int = 1000

    def command(self, normal_class: int, seed: int, method: str, out: Path) -> str:
        words = ["anogan", "benchmark", "--dataset", self.dataset]
        if self.data:
            words += ["--data", self.data]
        words += ["--classes", str(normal_class), "--seeds", str(seed), "--epochs", str(self.epochs),
                  "--encoder-epochs", str(self.encoder_epochs), "--batch-size", str(self.batch_size),
                  "--methods", method, "--anogan-limit", str(self.anogan_limit), "--out", str(out)]
        return shlex.join(words)


def result_path(out: Path, dataset: str, normal_class: int, seed: int, method: str) -> Path:
    return out / f"{dataset}_class{normal_class}_seed{seed}_{method}.json"


def run_benchmark(
    config: BenchmarkConfig,
    classes: Sequence[int],
    seeds: Sequence[int],
    methods: Sequence[str],
    out,
    runs_dir=None,
    settings=None,
    progress: bool = True,
) -> list[dict]:
    """Run every missing (class, seed, method) result; return all results found in ``out``.

    Model bundles go to ``runs_dir`` (default ``OUT/runs``), which is
    large and need not be kept: results are self-contained JSON files.
    """
    from anogan.artifacts import load_bundle
    from anogan.batch import open_input, score_to_csv
    from anogan.evaluation import compute_metrics
    from anogan.batch import read_results
    from anogan.pipeline import prepare_scorer
    from anogan.scoring import ENCODER_METHODS, METHODS, ScoringSettings
    from anogan.training import train, train_encoder

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise AnoganError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    settings = settings or ScoringSettings()
    out = Path(out)
    runs_dir = Path(runs_dir) if runs_dir else out / "runs"
    out.mkdir(parents=True, exist_ok=True)
    for normal_class in classes:
        for seed in seeds:
            missing = [m for m in methods if not result_path(out, config.dataset, normal_class, seed, m).exists()]
            if not missing:
                continue
            run_dir = runs_dir / f"{config.dataset}_class{normal_class}_seed{seed}"
            if progress:
                print(f"== {config.dataset} normal={normal_class} seed={seed}: {', '.join(missing)}", flush=True)
            bundle = train(config.dataset, normal=[normal_class], epochs=config.epochs, out=run_dir,
                           data=config.data, batch_size=config.batch_size, seed=seed, resume=True,
                           progress=progress)
            train_seconds = float(sum(_history_seconds(run_dir / "history.csv")))
            if bundle.encoder is None and any(m in ENCODER_METHODS for m in missing):
                bundle = train_encoder(bundle, epochs=config.encoder_epochs, seed=seed, progress=progress)
                bundle = load_bundle(run_dir)
            encoder_seconds = float(sum(_history_seconds(run_dir / "encoder_history.csv")))
            for method in missing:
                limit = config.anogan_limit if method == "anogan" else None
                source = open_input(f"{config.dataset}:test", config.data, limit=limit, sample_seed=0)
                scorer, calibration = prepare_scorer(bundle, method, settings, progress)
                results_csv = run_dir / f"results_{method}.csv"
                started = time.perf_counter()
                summary = score_to_csv(source, scorer, calibration, results_csv, resume=True, progress=progress)
                seconds = time.perf_counter() - started
                metrics = compute_metrics(read_results(results_csv))
                record = {
                    "dataset": config.dataset, "normal_class": normal_class, "seed": seed, "method": method,
                    "auroc": metrics["auroc"], "auprc": metrics["auprc"], "f1_max": metrics["f1_max"],
                    "n_test": metrics["n_labelled"], "train_seconds": round(train_seconds, 1),
                    "encoder_seconds": round(encoder_seconds, 1) if method in ENCODER_METHODS else 0.0,
                    "score_images_per_second": round(summary.scored / seconds, 2) if summary.scored else None,
                    "epochs": config.epochs, "encoder_epochs": config.encoder_epochs,
                    "batch_size": config.batch_size, "settings": settings.relevant_to(method),
                    "anogan_limit": limit, "command": config.command(normal_class, seed, method, out),
                }
                write_json_atomic(result_path(out, config.dataset, normal_class, seed, method), record)
                if progress:
                    print(f"   {method}: AUROC {record['auroc']:.4f}", flush=True)
    return load_results(out)


def _history_seconds(path: Path) -> list[float]:
    import csv

    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [float(row["seconds"]) for row in csv.DictReader(handle)]


def load_results(out) -> list[dict]:
    records = []
    for path in sorted(Path(out).glob("*_class*_seed*_*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise AnoganError(f"{path}: damaged result file ({exc})") from None
    return records


def summarize(out, records: Optional[list[dict]] = None) -> Optional[Path]:
    """Write ``summary.csv``, ``summary.md`` and ``summary.png`` from the result files in ``out``."""
    import pandas as pd

    out = Path(out)
    records = load_results(out) if records is None else records
    if not records:
        return None
    frame = pd.DataFrame(records)[[f for f in RESULT_FIELDS if f != "command"]]
    frame = frame.sort_values(["method", "normal_class", "seed"])
    write_text_atomic(out / "summary.csv", frame.to_csv(index=False))
    grouped = frame.groupby(["method", "normal_class"])["auroc"].agg(["mean", "std", "count"]).reset_index()
    methods = sorted(grouped["method"].unique())
    classes = sorted(grouped["normal_class"].unique())
    header = "| normal class | " + " | ".join(methods) + " |"
    lines = [f"AUROC (%) on the official test set of {frame['dataset'].iloc[0]}, per normal class: mean ± std over "
             "n seeds; the last row averages the classes per seed, then over seeds.", "",
             header, "|" + "---|" * (len(methods) + 1)]

    def cell(values) -> str:
        if values.empty:
            return "–"
        row = values.iloc[0]
        if int(row["count"]) == 1:
            return f"{100 * row['mean']:.1f} (n=1)"
        return f"{100 * row['mean']:.1f} ± {100 * row['std']:.1f} (n={int(row['count'])})"

    for normal_class in classes:
        cells = [cell(grouped[(grouped.method == m) & (grouped.normal_class == normal_class)]) for m in methods]
        lines.append(f"| {normal_class} | " + " | ".join(cells) + " |")
    means = []
    for method in methods:
        per_seed = frame[frame.method == method].groupby("seed")["auroc"].mean()
        complete = frame[frame.method == method]["normal_class"].nunique()
        spread = f" ± {100 * per_seed.std():.1f}" if len(per_seed) > 1 else ""
        means.append(f"{100 * per_seed.mean():.1f}{spread} ({complete} classes, {len(per_seed)} seed(s))")
    lines.append("| **mean** | " + " | ".join(means) + " |")
    write_text_atomic(out / "summary.md", "\n".join(lines) + "\n")
    _plot_summary(out / "summary.png", grouped, methods, classes)
    return out / "summary.md"


def _plot_summary(path: Path, grouped, methods, classes) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anogan.evaluation import save_figure

    figure, axis = plt.subplots(figsize=(max(6, len(classes) * 0.9), 3.5))
    width = 0.8 / len(methods)
    for offset, method in enumerate(methods):
        rows = grouped[grouped.method == method].set_index("normal_class").reindex(classes)
        axis.bar(np.arange(len(classes)) + offset * width, 100 * rows["mean"], width,
                 yerr=100 * rows["std"].fillna(0), label=method, capsize=2)
    axis.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, [str(c) for c in classes])
    axis.set(xlabel="normal class", ylabel="AUROC (%)", ylim=(40, 100), title="one-class AUROC")
    axis.legend(loc="lower right")
    save_figure(figure, path)
