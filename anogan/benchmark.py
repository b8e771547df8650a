"""The one-class benchmark: every normal class x seed x candidate, resumable.

For each (normal class, seed) a DCGAN is trained on that class's training
images only (the last epoch is used: nothing is selected on the test set),
then each candidate (a method with its settings) scores either the official
test split (``anogan`` with inversion steps: a fixed seeded subset, since 500
steps per image are slow) or the dev split (:func:`anogan.data.dev_split`, where
choices are made), and its AUROC, AUPRC, F1-max, training time and scoring
throughput are written to one JSON file per (dataset, class, seed, candidate). A rerun skips finished files, so the
table can be built over several sittings; :func:`summarize` then writes
``summary.csv``, ``summary.md`` (mean ± std over seeds) and ``summary.png``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shlex
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from anogan.artifacts import ENCODER_METHODS, RunDirectory, write_json_atomic, write_text_atomic
from anogan.data import DEV_ANOMALIES
from anogan.errors import AnoganError
from anogan.evaluation import OPERATING_POINTS, ranking_metrics
from anogan.recipes import DEFAULT_RECIPE, get_recipe, training_flags
from anogan.scoring import ScoringSettings, check_methods
from anogan.training import TrainConfig

progress_log = logging.getLogger("anogan.progress")

# the training settings every result records, as the bundle was trained
TRAINED_FIELDS = ("epochs", "batch_size", "precision", "generator_ema", "discriminator_ema", "learning_rate", "beta_1",
                  "min_steps", "val_fraction")
RESULT_FIELDS = ("dataset", "split", "normal_class", "seed", "candidate", "recipe", "method", "auroc",
                 "tpr_at_1pct_fpr", "tpr_at_5pct_fpr", "recall_at_threshold", "auprc", "f1_max", "train_seconds",
                 "encoder_seconds", "score_images_per_second", "epochs", "command")


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


SPLITS = ("test", "dev")


@dataclass(frozen=True)
class Candidate:
    """One scoring configuration under comparison: a method with its settings, under a name."""

    name: str
    method: str
    settings: ScoringSettings = ScoringSettings()


@dataclass(frozen=True)
class BenchmarkConfig:
    """What the benchmark trains with: a recipe (:mod:`anogan.recipes`) and the training settings it replaces.

    ``training`` maps a recipe's training setting to its value (``None``: the recipe's).
    """

    dataset: str
    data: Optional[str]
    recipe: str = DEFAULT_RECIPE
    training: dict = field(default_factory=dict)
    precision: str = "float32"
    anogan_limit: int = 1000
    split: str = "test"
    dev_anomalies: int = DEV_ANOMALIES

    def train_config(self, normal_class: int, seed: int) -> TrainConfig:
        return get_recipe(self.recipe).train_config(self.dataset, (str(normal_class),), data=self.data, seed=seed,
                                                    precision=self.precision, **self.training)

    def training_name(self) -> str:
        """The recipe's name, with a short hash of the replaced training settings if any (for the runs folder)."""
        # not the epochs: a longer run of the same settings continues a shorter one's checkpoint
        replaced = {k: v for k, v in sorted(self.training.items())
                    if v is not None and k not in ("epochs", "encoder_epochs")}
        if self.precision != "float32":
            replaced["precision"] = self.precision
        if not replaced:
            return self.recipe
        return f"{self.recipe}-{hashlib.blake2b(json.dumps(replaced).encode(), digest_size=3).hexdigest()}"

    @property
    def encoder_epochs(self) -> int:
        return self.training.get("encoder_epochs") or get_recipe(self.recipe).training.encoder_epochs

    def command(self, normal_class: int, seed: int, candidate: Candidate, out: Path) -> str:
        """The command that reproduces one result: the recipe, every replaced setting, the candidate's flags."""
        words = ["anogan", "benchmark", "--dataset", self.dataset]
        if self.data:
            words += ["--data", self.data]
        words += ["--recipe", self.recipe, "--classes", str(normal_class), "--seeds", str(seed),
                  *training_flags(self.training), "--methods", candidate.method, "--candidate", candidate.name]
        if self.precision != "float32":
            words += ["--precision", self.precision]
        if self.split == "dev":
            words += ["--split", "dev", "--dev-anomalies", str(self.dev_anomalies)]
        else:
            words += ["--anogan-limit", str(self.anogan_limit)]
        base = get_recipe(self.recipe).settings_for(candidate.method)
        return shlex.join(words + candidate.settings.as_flags(base) + ["--out", str(out)])


def candidates_for(config: BenchmarkConfig, methods: Optional[Sequence[str]] = None, named: Optional[dict] = None,
                   name: Optional[str] = None) -> list[Candidate]:
    """The candidates of one benchmark call: each method under the recipe, with the settings ``named`` on top.

    Names: the recipe's (``recommended``) for its own method, ``RECIPE-METHOD``
    for another; with any training or scoring setting replaced,
    ``RECIPE-custom-HASH`` (the settings are in every result file). ``name``
    names the one candidate of a single-method call.

    Example:
        >>> [c.name for c in candidates_for(BenchmarkConfig("mnist", None), ["anogan", "feature-knn"])]
        ['recommended', 'recommended-feature-knn']
    """
    recipe = get_recipe(config.recipe)
    methods = check_methods(methods or [recipe.method])
    if name and len(methods) != 1:
        raise AnoganError("--candidate names one configuration: give exactly one --methods")
    named = named or {}
    replaced = {k: v for k, v in config.training.items() if v is not None}
    candidates = []
    for method in methods:
        settings = replace(recipe.settings_for(method), **named)
        label = recipe.name if method == recipe.method else f"{recipe.name}-{method}"
        if not name and (replaced or named):
            digest = hashlib.blake2b(json.dumps([replaced, method, settings.relevant_to(method)], sort_keys=True)
                                     .encode(), digest_size=3).hexdigest()
            label = f"{recipe.name}-custom-{digest}" + ("" if method == recipe.method else f"-{method}")
        candidates.append(Candidate(name or label, method, settings))
    return candidates


def result_path(out: Path, dataset: str, normal_class: int, seed: int, name: str) -> Path:
    return out / f"{dataset}_class{normal_class}_seed{seed}_{name}.json"


def run_benchmark(
    config: BenchmarkConfig,
    classes: Sequence[int],
    seeds: Sequence[int],
    candidates: Sequence[Candidate],
    out,
    runs_dir=None,
    progress: bool = True,
    engine=None,
) -> list[dict]:
    """Run every missing (class, seed, candidate) result; return all results found in ``out``.

    ``config.split`` is ``test`` (the official test split, scored once per
    frozen configuration) or ``dev`` (see :func:`anogan.data.dev_split`: held-out
    normal training images against other classes' training images, for making
    choices). Model bundles go to ``runs_dir`` (default ``OUT/runs``), which is
    large and need not be kept: results are self-contained JSON files. The
    bundles do not depend on the split, so dev and test runs can share them.
    Each (class, seed) is one independent run: ``engine`` runs them
    (default one after another here; :class:`anogan.ray_engine.RayEngine` as Ray tasks).
    """
    from anogan.results import LocalEngine

    if config.split not in SPLITS:
        raise AnoganError(f"unknown split {config.split!r}; choose from {', '.join(SPLITS)}")
    check_methods([c.method for c in candidates])
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise AnoganError("candidate names must be unique")
    out = Path(out)
    runs_dir = Path(runs_dir) if runs_dir else out / "runs"
    out.mkdir(parents=True, exist_ok=True)
    calls = []
    for normal_class in classes:
        for seed in seeds:
            missing = [c for c in candidates
                       if not result_path(out, config.dataset, normal_class, seed, c.name).exists()]
            if missing:
                calls.append(dict(config=config, normal_class=normal_class, seed=seed, candidates=missing, out=out,
                                  runs_dir=runs_dir, progress=progress))
    (engine or LocalEngine()).run_all(run_cell, calls)
    return load_results(out)


def run_cell(config: BenchmarkConfig, normal_class: int, seed: int, candidates: Sequence[Candidate], out: Path,
             runs_dir: Path, progress: bool = True) -> None:
    """Train (or reuse) the bundle of one (class, seed) and write one result file per candidate."""
    from anogan.data import dev_split, load_dataset
    from anogan.pipeline import ensure_bundle

    if progress:
        progress_log.info("== %s normal=%s seed=%s (%s): %s", config.dataset, normal_class, seed,
                          config.split, ", ".join(c.name for c in candidates))
    run = RunDirectory(runs_dir / f"{config.dataset}_class{normal_class}_seed{seed}_{config.training_name()}")
    bundle = ensure_bundle(config.train_config(normal_class, seed), run.path, [c.method for c in candidates],
                           config.encoder_epochs, progress=progress)
    trained = {**asdict(TrainConfig("-", ("-",), 1)), **bundle.metadata["training"]}
    timing = {"train_seconds": round(run.seconds(run.history), 1),
              "encoder_seconds": round(run.seconds(run.encoder_history), 1)}
    if config.split == "dev":
        dev = dev_split(load_dataset(config.dataset, config.data), [normal_class],
                        float(bundle.metadata["dataset"]["val_fraction"]), seed, config.dev_anomalies)
        measured = _score_dev(bundle, dev, candidates)
    else:
        measured = {c.name: _score_test(config, bundle, run.path, c, progress) for c in candidates}
    for candidate in candidates:
        record = {
            "dataset": config.dataset, "split": config.split, "normal_class": normal_class, "seed": seed,
            "candidate": candidate.name, "method": candidate.method, **measured[candidate.name],
            "train_seconds": timing["train_seconds"],
            "encoder_seconds": timing["encoder_seconds"] if candidate.method in ENCODER_METHODS else 0.0,
            "recipe": config.recipe, "training_replaced": {k: v for k, v in config.training.items() if v is not None},
            **{key: trained[key] for key in TRAINED_FIELDS},
            "encoder_epochs": config.encoder_epochs,
            "settings": candidate.settings.relevant_to(candidate.method),
            "command": config.command(normal_class, seed, candidate, out),
            "produced_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json_atomic(result_path(out, config.dataset, normal_class, seed, candidate.name), record)
        if progress:
            progress_log.info("   %s: AUROC %.4f", candidate.name, record["auroc"])


def _score_test(config: BenchmarkConfig, bundle, run_dir: Path, candidate: Candidate, progress: bool) -> dict:
    from anogan.evaluation import compute_metrics
    from anogan.pipeline import prepare_scorer, score_split
    from anogan.results import read_results

    # only a stepping search is slow enough to need the subset; a latent-bank search with 0 steps scores all
    limit = config.anogan_limit if candidate.method == "anogan" and candidate.settings.steps else None
    scorer, calibration = prepare_scorer(bundle, candidate.method, candidate.settings, progress)
    results_csv = run_dir / f"results_{candidate.name}.csv"
    started = time.perf_counter()
    summary = score_split(f"{config.dataset}:test", config.data, scorer, calibration, results_csv, limit=limit,
                          progress=progress)
    seconds = time.perf_counter() - started
    metrics = compute_metrics(read_results(results_csv))
    return {**{key: metrics[key] for key in ("auroc", "auprc", "f1_max", *OPERATING_POINTS, "recall_at_threshold")},
            "false_positive_rate_at_threshold": metrics["at_bundle_threshold"]["false_positive_rate"],
            "n_test": metrics["n_labelled"], "anogan_limit": limit,
            "score_images_per_second": round(summary.scored / seconds, 2) if summary.scored else None}


def _score_dev(bundle, dev, candidates: Sequence[Candidate]) -> dict[str, dict]:
    """Dev AUROC of every candidate; candidates that differ only in how the inversion's terms are
    combined share one inversion, and anything fitted is fitted on ``dev.x_fit`` only."""
    from dataclasses import replace

    from anogan.scoring import INVERSION_METHODS, Scorer, combine_terms, fit_term_stats

    labels = np.r_[np.zeros(len(dev.x_normal)), np.ones(len(dev.x_anomaly))]
    images = np.concatenate([dev.x_normal, dev.x_anomaly])
    measured = {}
    inversions = {}
    for candidate in candidates:
        started = time.perf_counter()
        if candidate.method in INVERSION_METHODS:
            search = replace(candidate.settings, residual="l1", feature_distance="l1", standardize=False,
                             critic_weight=0.0)
            key = (candidate.method, search)
            if key not in inversions:
                scorer = Scorer(bundle, candidate.method, search)
                inversions[key] = (fit_term_stats(scorer.invert(dev.x_fit)), scorer.invert(images),
                                   time.perf_counter() - started)
            stats, terms, seconds = inversions[key]
            scores = combine_terms(terms, candidate.settings, stats).score
        else:
            scores = Scorer(bundle, candidate.method, candidate.settings, fit_images=dev.x_fit).score(images).score
            seconds = time.perf_counter() - started
        measured[candidate.name] = {**ranking_metrics(labels, scores), "n_normal": len(dev.x_normal),
                                    "n_anomaly": len(dev.x_anomaly), "n_fit": len(dev.x_fit),
                                    "score_images_per_second": round((len(images) + len(dev.x_fit)) / seconds, 2)}
    return measured


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
    frame = pd.DataFrame(records)
    # Results written before dev splits and named candidates existed are test results named by method.
    frame["split"] = frame["split"].fillna("test") if "split" in frame else "test"
    frame["candidate"] = frame["candidate"].fillna(frame["method"]) if "candidate" in frame else frame["method"]
    # results written before recipes and operating points lack those fields
    frame = frame.reindex(columns=[f for f in RESULT_FIELDS if f != "command"]).sort_values(
        ["candidate", "normal_class", "seed"])
    write_text_atomic(out / "summary.csv", frame.to_csv(index=False))
    grouped = frame.groupby(["candidate", "normal_class"])["auroc"].agg(["mean", "std", "count"]).reset_index()
    candidates = sorted(grouped["candidate"].unique())
    classes = sorted(grouped["normal_class"].unique())
    splits = sorted(frame["split"].unique())
    where = ("the dev split (held-out normal training images against other classes' training images)"
             if splits == ["dev"] else "the official test set" if splits == ["test"] else f"splits {splits}")
    header = "| normal class | " + " | ".join(candidates) + " |"
    lines = [f"AUROC (%) on {where} of {frame['dataset'].iloc[0]}, per normal class: mean ± std over "
             "n seeds; the last row averages the classes per seed, then over seeds.", "",
             header, "|" + "---|" * (len(candidates) + 1)]

    def cell(values) -> str:
        if values.empty:
            return "–"
        row = values.iloc[0]
        if int(row["count"]) == 1:
            return f"{100 * row['mean']:.1f} (n=1)"
        return f"{100 * row['mean']:.1f} ± {100 * row['std']:.1f} (n={int(row['count'])})"

    for normal_class in classes:
        cells = [cell(grouped[(grouped.candidate == c) & (grouped.normal_class == normal_class)]) for c in candidates]
        lines.append(f"| {normal_class} | " + " | ".join(cells) + " |")
    means = []
    for candidate in candidates:
        results = frame[frame.candidate == candidate]
        n_classes = results["normal_class"].nunique()
        # a seed still running covers fewer classes, and its mean would not be comparable with the others'
        classes_per_seed = results.groupby("seed")["normal_class"].nunique()
        whole_seeds = classes_per_seed.index[classes_per_seed == n_classes]
        per_seed = results[results.seed.isin(whole_seeds)].groupby("seed")["auroc"].mean()
        spread = f" ± {100 * per_seed.std():.1f}" if len(per_seed) > 1 else ""
        partial = len(classes_per_seed) - len(whole_seeds)
        left_out = f"; {partial} partial seed(s) left out" if partial else ""
        means.append(f"{100 * per_seed.mean():.1f}{spread} ({n_classes} classes, {len(per_seed)} seed(s){left_out})")
    lines.append("| **mean** | " + " | ".join(means) + " |")
    write_text_atomic(out / "summary.md", "\n".join(lines) + "\n")
    write_text_atomic(out / "candidates.md", candidate_table(frame, records))
    _plot_summary(out / "summary.png", grouped, candidates, classes)
    return out / "summary.md"


def candidate_table(frame, records: list[dict]) -> str:
    """One row per candidate, best mean first: mean and worst class AUROC, classes done, minutes per run.

    Minutes are the measured wall time of training + encoder (if the method
    uses it) + scoring the split's images, per (class, seed), on the 2-core
    machine that ran it (often shared with another job, so an upper bound).
    """
    import pandas as pd

    images = pd.Series([r.get("n_normal", 0) + r.get("n_anomaly", 0) + r.get("n_fit", 0) or r.get("n_test", 0)
                        for r in records], index=[r.get("candidate", r["method"]) for r in records])
    rows = []
    for candidate, group in frame.groupby("candidate"):
        per_class = group.groupby("normal_class")["auroc"].mean()
        n_images = float(images[candidate].mean()) if candidate in images.index else 0.0
        scoring = (n_images / group["score_images_per_second"]).mean()
        minutes = (group["train_seconds"] + group["encoder_seconds"]).mean() / 60 + scoring / 60
        operating = [_percent(group[key].mean()) for key in ("tpr_at_1pct_fpr", "recall_at_threshold")]
        tpr_by_class = group.groupby("normal_class")["tpr_at_1pct_fpr"].mean().dropna()
        worst_tpr = f"{100 * tpr_by_class.min():.1f} (class {int(tpr_by_class.idxmin())})" if len(tpr_by_class) else "–"
        rows.append((100 * per_class.mean(), candidate, group["method"].iloc[0], 100 * per_class.min(),
                     int(per_class.idxmin()), len(per_class), minutes, *operating, worst_tpr))
    lines = ["| candidate | method | mean AUROC | worst class | TPR at 1 % FPR | worst TPR at 1 % FPR | "
             "recall at threshold | classes | minutes per run |", "|---|---|---:|---|---:|---|---:|---:|---:|"]
    # candidates measured on more classes first: a mean over fewer classes is not comparable
    for mean, candidate, method, worst, worst_class, n, minutes, tpr, recall, worst_tpr in sorted(
            rows, key=lambda r: (-r[5], -r[0])):
        lines.append(f"| {candidate} | {method} | {mean:.1f} | {worst:.1f} (class {worst_class}) | {tpr} | "
                     f"{worst_tpr} | {recall} | {n} | {minutes:.1f} |")
    return "\n".join(lines) + "\n"


def _percent(value) -> str:
    """A share as a percentage, or a dash where older results did not measure it."""
    return "–" if value is None or value != value else f"{100 * value:.1f}"


def _plot_summary(path: Path, grouped, candidates, classes) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anogan.evaluation import save_figure

    figure, axis = plt.subplots(figsize=(max(6, len(classes) * 0.9), 3.5))
    width = 0.8 / len(candidates)
    for offset, candidate in enumerate(candidates):
        rows = grouped[grouped.candidate == candidate].set_index("normal_class").reindex(classes)
        axis.bar(np.arange(len(classes)) + offset * width, 100 * rows["mean"], width,
                 yerr=100 * rows["std"].fillna(0), label=candidate, capsize=2)
    axis.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, [str(c) for c in classes])
    axis.set(xlabel="normal class", ylabel="AUROC (%)", ylim=(40, 100), title="one-class AUROC")
    axis.legend(loc="lower right")
    save_figure(figure, path)
