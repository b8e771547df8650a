"""The one-class benchmark: every normal class x seed x candidate, resumable.

For each (normal class, seed) a DCGAN is trained on that class's training
images only with a recipe (the last epoch is used: nothing is selected on
the test set), then each candidate (a method with its settings) scores
either the official test split or the dev split
(:func:`anogan.data.protocol.dev_split`, where choices are made), and its
AUROC, TPR at 1 % and 5 % FPR, recall at the bundle's threshold, AUPRC,
F1-max, training time and scoring throughput are written to one JSON file
per (dataset, class, seed, candidate), with the command that reproduces it.
A rerun skips finished files, so the table can be built over several sittings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shlex
import time
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from anogan.data.protocol import DEV_ANOMALIES
from anogan.errors import AnoganError
from anogan.experiments.evaluation import OPERATING_POINTS, ranking_metrics
from anogan.experiments.reports import load_results
from anogan.gan.bundle import RunDirectory
from anogan.gan.training import TrainConfig
from anogan.scoring.methods import check_methods, get_method
from anogan.scoring.recipes import DEFAULT_RECIPE, TrainingSettings, get_recipe, training_flags
from anogan.scoring.settings import ScoringSettings
from anogan.storage import write_json_atomic

progress_log = logging.getLogger("anogan.progress")


# the training settings every result records, as the bundle was trained
TRAINED_FIELDS = ("epochs", "batch_size", "precision", "generator_ema", "discriminator_ema", "learning_rate", "beta_1",
                  "min_steps", "val_fraction", "discriminator", "diff_augment", "split_seed")


# What a recipe fixes of the training and a result records as trained; not the epochs, which the step floor
# raises on small sets and a longer run of the same settings continues
RECORDED_TRAINING = tuple(f.name for f in fields(TrainingSettings)
                          if f.name in TRAINED_FIELDS and f.name not in ("epochs", "min_steps"))


def recorded_training(record: dict) -> dict:
    """The recipe-level training settings a result file says its bundle was trained with.

    A setting missing from the record did not exist when it was written, so
    its default (what the code did then) was trained.
    """
    defaults = {f.name: f.default for f in fields(TrainingSettings) if f.default is not MISSING}
    return {name: record.get(name, defaults.get(name)) for name in RECORDED_TRAINING}


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
    """What the benchmark trains with: a recipe (:mod:`anogan.scoring.recipes`) and the training settings it replaces.

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
    split_seed: Optional[int] = None

    def train_config(self, normal_class: int, seed: int) -> TrainConfig:
        return get_recipe(self.recipe).train_config(self.dataset, (str(normal_class),), data=self.data, seed=seed,
                                                    precision=self.precision, split_seed=self.split_seed,
                                                    **self.training)

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

    def run_name(self, normal_class: int, seed: int) -> str:
        """The folder name of the bundle of one (class, seed) under the runs folder."""
        split = split_suffix(seed, self.split_seed)
        return f"{self.dataset}_class{normal_class}_seed{seed}{split}_{self.training_name()}"

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
        if split_suffix(seed, self.split_seed):
            words += ["--split-seed", str(self.split_seed)]
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


def named_candidate(name: str) -> Candidate:
    """The candidate a name stands for: a recipe (its method and settings), ``RECIPE-METHOD`` (that recipe's
    bundle scored by another method with its defaults), or a method (its defaults).

    Example:
        >>> named_candidate("recommended-feature-knn").method
        'feature-knn'
    """
    from anogan.scoring.methods import METHODS
    from anogan.scoring.recipes import RECIPES

    if name in METHODS:
        return Candidate(name, name, ScoringSettings())
    for recipe in RECIPES:
        if name == recipe or (name.startswith(recipe + "-") and name[len(recipe) + 1:] in METHODS):
            method = name[len(recipe) + 1:] or None
            return candidates_for(BenchmarkConfig("-", None, recipe=recipe), [method] if method else None)[0]
    raise AnoganError(f"unknown candidate {name!r}: name a recipe ({', '.join(RECIPES)}), RECIPE-METHOD or a "
                      f"method ({', '.join(METHODS)})")


def result_path(out: Path, normal_class: int, seed: int, name: str, split_seed: Optional[int] = None) -> Path:
    """Where the result of candidate ``name`` on (class, seed) lives: one folder per candidate."""
    return out / name / f"class{normal_class}_seed{seed}{split_suffix(seed, split_seed)}.json"


def split_suffix(seed: int, split_seed: Optional[int]) -> str:
    """What names a run whose validation split is another seed's (nothing when it is its own)."""
    return "" if split_seed is None or split_seed == seed else f"_split{split_seed}"


def _check_store(out: Path, config: BenchmarkConfig) -> None:
    """Refuse a results folder that holds another dataset's or split's results: their tables would mix."""
    for record in load_results(out):
        if (record["dataset"], record["split"]) != (config.dataset, config.split):
            raise AnoganError(f"{out} holds {record['dataset']} {record['split']} results; give each dataset and "
                              f"split its own --out (e.g. benchmarks/results/{config.dataset}/{config.split})")


def _check_same_configuration(path: Path, config: BenchmarkConfig, normal_class: int, seed: int,
                              candidate: Candidate) -> None:
    """Refuse to count a finished result as done when it was produced by another configuration under the same
    name (a recipe frozen anew since): resuming would report the old configuration's numbers as the new one's."""
    record = json.loads(path.read_text())
    trained = recorded_training(record)
    wanted = config.train_config(normal_class, seed)
    differ = [f"{name} {trained[name]!r} (now {getattr(wanted, name)!r})" for name in RECORDED_TRAINING
              if trained[name] != getattr(wanted, name)]
    settings = json.loads(json.dumps(candidate.settings.relevant_to(candidate.method)))
    differ += [f"{key} {value!r} (now {settings[key]!r})" for key, value in record.get("settings", {}).items()
               if key in settings and value != settings[key]]
    if differ:
        raise AnoganError(f"{path} was produced by another configuration of {candidate.name!r}: "
                          f"{', '.join(differ)}; give this one its own --out (or --candidate name)")


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
    frozen configuration) or ``dev`` (see :func:`anogan.data.protocol.dev_split`: held-out
    normal training images against other classes' training images, for making
    choices). Model bundles go to ``runs_dir`` (default ``OUT/runs``), which is
    large and need not be kept: results are self-contained JSON files. The
    bundles do not depend on the split, so dev and test runs can share them.
    Each (class, seed) is one independent run: ``engine`` runs them
    (default one after another here; :class:`anogan.engines.ray_engine.RayEngine` as Ray tasks).
    """
    from anogan.engines.local import LocalEngine

    if config.split not in SPLITS:
        raise AnoganError(f"unknown split {config.split!r}; choose from {', '.join(SPLITS)}")
    check_methods([c.method for c in candidates])
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise AnoganError("candidate names must be unique")
    out = Path(out)
    runs_dir = Path(runs_dir) if runs_dir else out / "runs"
    out.mkdir(parents=True, exist_ok=True)
    _check_store(out, config)
    calls = []
    for normal_class in classes:
        for seed in seeds:
            paths = {c.name: result_path(out, normal_class, seed, c.name, config.split_seed) for c in candidates}
            for candidate in candidates:
                if paths[candidate.name].exists():
                    _check_same_configuration(paths[candidate.name], config, normal_class, seed, candidate)
            missing = [c for c in candidates if not paths[c.name].exists()]
            if missing:
                calls.append(dict(config=config, normal_class=normal_class, seed=seed, candidates=missing, out=out,
                                  runs_dir=runs_dir, progress=progress))
    (engine or LocalEngine()).run_all(run_cell, calls)
    return load_results(out)


def run_cell(config: BenchmarkConfig, normal_class: int, seed: int, candidates: Sequence[Candidate], out: Path,
             runs_dir: Path, progress: bool = True) -> None:
    """Train (or reuse) the bundle of one (class, seed) and write one result file per candidate."""
    from anogan.data.datasets import load_dataset
    from anogan.data.protocol import dev_split, validation_seed_of
    from anogan.experiments.pipeline import ensure_bundle

    if progress:
        progress_log.info("== %s normal=%s seed=%s (%s): %s", config.dataset, normal_class, seed,
                          config.split, ", ".join(c.name for c in candidates))
    run = RunDirectory(runs_dir / config.run_name(normal_class, seed))
    bundle = ensure_bundle(config.train_config(normal_class, seed), run.path, [c.method for c in candidates],
                           config.encoder_epochs, progress=progress)
    trained = {**asdict(TrainConfig("-", ("-",), 1)), **bundle.metadata["training"]}
    timing = {"train_seconds": round(run.seconds(run.history), 1),
              "encoder_seconds": round(run.seconds(run.encoder_history), 1)}
    if config.split == "dev":
        dev = dev_split(load_dataset(config.dataset, config.data), [normal_class],
                        float(bundle.metadata["dataset"]["val_fraction"]), validation_seed_of(bundle.metadata),
                        config.dev_anomalies)
        measured = _score_dev(bundle, dev, candidates)
    else:
        measured = {c.name: _score_test(config, bundle, run.path, c, progress) for c in candidates}
    for candidate in candidates:
        record = {
            "dataset": config.dataset, "split": config.split, "normal_class": normal_class, "seed": seed,
            "candidate": candidate.name, "method": candidate.method, **measured[candidate.name],
            "train_seconds": timing["train_seconds"],
            "encoder_seconds": timing["encoder_seconds"] if get_method(candidate.method).needs_encoder else 0.0,
            "recipe": config.recipe, "training_replaced": {k: v for k, v in config.training.items() if v is not None},
            **{key: trained[key] for key in TRAINED_FIELDS},
            "encoder_epochs": config.encoder_epochs,
            "settings": candidate.settings.relevant_to(candidate.method),
            "command": config.command(normal_class, seed, candidate, out),
            "produced_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_json_atomic(result_path(out, normal_class, seed, candidate.name, config.split_seed), record)
        if progress:
            progress_log.info("   %s: AUROC %.4f", candidate.name, record["auroc"])


def _score_test(config: BenchmarkConfig, bundle, run_dir: Path, candidate: Candidate, progress: bool) -> dict:
    from anogan.experiments.evaluation import compute_metrics
    from anogan.experiments.pipeline import prepare_scorer, score_split
    from anogan.results.files import read_results

    # only a stepping search is slow enough to need the subset; a latent-bank search with 0 steps scores all
    limit = config.anogan_limit if get_method(candidate.method).is_slow(candidate.settings) else None
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
    """Dev AUROC of every candidate (see :func:`dev_scores`)."""
    labels = dev_labels(dev)
    measured = {}
    for name, (scores, seconds) in dev_scores(bundle, dev, candidates).items():
        measured[name] = {**ranking_metrics(labels, scores), "n_normal": len(dev.x_normal),
                          "n_anomaly": len(dev.x_anomaly), "n_fit": len(dev.x_fit),
                          "score_images_per_second": round((len(labels) + len(dev.x_fit)) / seconds, 2)}
    return measured


def dev_labels(dev) -> np.ndarray:
    """0 for the dev split's normal images, 1 for its anomalies, in the order :func:`dev_scores` scores them."""
    return np.r_[np.zeros(len(dev.x_normal)), np.ones(len(dev.x_anomaly))]


def dev_scores(bundle, dev, candidates: Sequence[Candidate]) -> dict[str, tuple[np.ndarray, float]]:
    """Each candidate's scores of the dev split's normal images then anomalies, and the seconds they took.

    Candidates whose searches are alike (same ``search_key``) share one
    inversion and differ only in how its terms are combined; anything fitted
    is fitted on ``dev.x_fit`` only.
    """
    from dataclasses import replace

    from anogan.scoring.scorer import Scorer
    from anogan.scoring.terms import TermCombination, fit_term_stats

    images = np.concatenate([dev.x_normal, dev.x_anomaly])
    scored = {}
    inversions = {}
    for candidate in candidates:
        started = time.perf_counter()
        method = get_method(candidate.method)
        if method.inverts:
            key = method.search_key(candidate.settings)
            if key not in inversions:
                # the plain l1 combination: the search does not depend on it, and it needs no statistics
                scorer = Scorer(bundle, candidate.method, replace(candidate.settings, standardize=False,
                                                                  critic_weight=0.0, complexity_weight=0.0))
                inversions[key] = (fit_term_stats(scorer.invert(dev.x_fit)), scorer.invert(images),
                                   time.perf_counter() - started)
            stats, terms, seconds = inversions[key]
            scores = TermCombination.from_settings(candidate.settings).combine(terms, stats).score
        else:
            scores = Scorer(bundle, candidate.method, candidate.settings, fit_images=dev.x_fit).score(images).score
            seconds = time.perf_counter() - started
        scored[candidate.name] = (scores, seconds)
    return scored
