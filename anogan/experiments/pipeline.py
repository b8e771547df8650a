"""Orchestration: the few steps every job is made of, written once.

* :func:`ensure_bundle`: train the GAN (or resume it, or reuse a finished
  run) and its encoder when a method needs one;
* :func:`prepare_scorer`: a scorer and its calibration, the stored one when
  its settings match;
* :func:`score_split`: score a dataset split into a results CSV per method.

The main job (:func:`run_job`), the benchmark and :class:`~anogan.Detector`
are built from them. Every stage is resumable: a finished stage is skipped
when the job runs again with the same output folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from anogan.data.inputs import open_input
from anogan.data.protocol import OneClassSplit
from anogan.engines.scoring_job import ScoreSummary, score_to_file
from anogan.experiments.evaluation import evaluate
from anogan.gan.bundle import Bundle, add_missing_reference
from anogan.gan.training import TrainConfig, train, train_on_split
from anogan.scoring.calibration import Calibration, calibrate, stored_calibration
from anogan.scoring.encoder_training import train_encoder
from anogan.scoring.methods import check_methods, get_method
from anogan.scoring.recipes import DEFAULT_RECIPE, MAIN_JOB_MIN_STEPS, get_recipe
from anogan.scoring.scorer import Scorer
from anogan.scoring.settings import ScoringSettings
from anogan.scoring.state_store import store_state, stored_state

progress_log = logging.getLogger("anogan.progress")


def ensure_bundle(
    config: TrainConfig,
    out,
    methods: Sequence[str] = (),
    encoder_epochs: int = 30,
    split: Optional[OneClassSplit] = None,
    progress: bool = True,
) -> Bundle:
    """The trained bundle of ``config`` in ``out``, with an encoder if one of ``methods`` needs it.

    Trains what is missing (resuming an interrupted run) and reuses what is
    done. ``split`` gives the images in memory instead of loading ``config.dataset``.
    """
    out = Path(out)
    if split is None:
        bundle = train(config, out, resume=True, progress=progress)
    else:
        bundle = train_on_split(split, config, out, resume=True, progress=progress)
    if bundle.encoder is None and any(get_method(m).needs_encoder for m in check_methods(methods)):
        images = None if split is None else split.x_train
        if progress:
            progress_log.info("== encoder: %d epochs, G and D frozen", encoder_epochs)
        bundle = train_encoder(bundle, images=images, epochs=encoder_epochs, seed=config.seed, progress=progress)
    return add_missing_reference(bundle)


def prepare_scorer(bundle: Bundle, method: str, settings: Optional[ScoringSettings] = None, progress: bool = True,
                   save: bool = True) -> tuple[Scorer, Calibration]:
    """A scorer and its calibration: the stored one if its settings match, else a new one (saved if ``save``).

    The scorer's heavy state (e.g. its pruned latent bank) is taken from the bundle when stored there, and
    stored there when built (if ``save``), so the next process starts warm.
    """
    settings = settings or ScoringSettings()
    state = stored_state(bundle, method, settings)
    scorer = Scorer(bundle, method, settings, state=state)
    if state is None and save and any(value is not None for value in scorer.state().values()):
        store_state(bundle, method, settings, scorer.state())
    calibration = stored_calibration(bundle, method, settings)
    if calibration is None:
        calibration = calibrate(scorer, save=save)
        if progress:
            progress_log.info("calibrated %s on %d normal validation images: threshold %.6g (%s)", method,
                              len(calibration.validation_scores), calibration.threshold, calibration.rule)
    return scorer, calibration


def score_split(
    spec: str,
    data: Optional[str],
    scorer: Scorer,
    calibration: Calibration,
    out,
    limit: Optional[int] = None,
    sample_seed: int = 0,
    maps_dir=None,
    progress: bool = True,
) -> ScoreSummary:
    """Score the dataset split ``spec`` (e.g. ``mnist:test``) into the results CSV ``out``, resuming it."""
    source = open_input(spec, data, limit=limit, sample_seed=sample_seed)
    return score_to_file(source, scorer, calibration, out, maps_dir=maps_dir, resume=True, progress=progress)


@dataclass
class JobResult:
    bundle_path: Path
    recipe: str = DEFAULT_RECIPE
    results: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


def run_job(
    out,
    dataset: str = "mnist-5k",
    data: Optional[str] = None,
    normal: Sequence = ("0",),
    recipe: str = DEFAULT_RECIPE,
    methods: Optional[Sequence[str]] = None,
    scoring_overrides: Optional[dict] = None,
    limit: Optional[int] = None,
    seed: int = 0,
    val_fraction: float = 0.25,
    progress: bool = True,
    **training_overrides,
) -> JobResult:
    """Run the whole job into ``out`` (bundle, results and evaluation per method) with one recipe.

    ``methods`` default to the recipe's own and ``feature-knn`` beside it;
    each scores with the recipe's settings if it is the recipe's method, else
    with its defaults, and ``scoring_overrides`` (setting name -> value) on
    top. A quarter of the normal training images are held out by default:
    on ``mnist-5k`` (400 per digit) that is 100, enough for the default 1 %
    false-positive rate (99 are needed; see :mod:`anogan.scoring.calibration`).
    ``training_overrides`` replace settings of the recipe's training, e.g.
    ``epochs=100``; the bundle records them. Unless epochs or a step floor
    are named, the step floor is :data:`MAIN_JOB_MIN_STEPS`.

    Example:
        >>> result = run_job("runs/demo")  # doctest: +SKIP
        >>> result.metrics["anogan"]["auroc"]  # doctest: +SKIP
    """
    from dataclasses import replace

    out = Path(out)
    chosen = get_recipe(recipe)
    methods = check_methods(methods or list(dict.fromkeys([chosen.method, "feature-knn"])))
    if training_overrides.get("epochs") is None and training_overrides.get("min_steps") is None:
        training_overrides["min_steps"] = MAIN_JOB_MIN_STEPS
    encoder_epochs = training_overrides.get("encoder_epochs") or chosen.training.encoder_epochs
    config = chosen.train_config(dataset, tuple(normal), data=data, seed=seed, val_fraction=val_fraction,
                                 **training_overrides)
    bundle = ensure_bundle(config, out, methods, encoder_epochs, progress=progress)
    job = JobResult(bundle_path=out, recipe=chosen.name)
    test_split = open_input(f"{dataset}:test", data, limit=limit, sample_seed=seed)  # loaded once for every method
    for method in methods:
        if progress:
            progress_log.info("== %s: calibrating on the normal validation images, then scoring %s:test", method,
                              dataset)
        settings = replace(chosen.settings_for(method), **(scoring_overrides or {}))
        scorer, calibration = prepare_scorer(bundle, method, settings, progress)
        results = out / f"results_{method}.csv"
        score_to_file(test_split, scorer, calibration, results, maps_dir=out / f"maps_{method}", resume=True,
                      progress=progress)
        job.results[method] = results
        job.metrics[method] = evaluate(results, out / f"evaluation_{method}")
    return job
