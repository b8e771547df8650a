"""The main job, end to end: train, train the encoder, calibrate, score the test split, evaluate.

Every stage is resumable: a finished stage is skipped when the job runs again
with the same output folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from anogan.artifacts import load_bundle
from anogan.batch import open_input, score_to_csv
from anogan.evaluation import evaluate
from anogan.scoring import ENCODER_METHODS, METHODS, Scorer, ScoringSettings
from anogan.thresholds import calibrate, stored_calibration
from anogan.training import normal_training_images, train, train_encoder


@dataclass
class JobResult:
    bundle_path: Path
    results: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


def prepare_scorer(bundle, method: str, settings: ScoringSettings, progress: bool = True, save: bool = True):
    """A scorer and its calibration: the stored one if its settings match, else a new one (saved to the bundle if ``save``).

    A bundle saved before bundles kept their normal training images gets
    them from its training data first, when ``feature-knn`` needs them.
    """
    if method == "feature-knn" and not bundle.has_reference():
        bundle.set_reference(normal_training_images(bundle))
    scorer = Scorer(bundle, method, settings)
    calibration = stored_calibration(bundle, method, settings)
    if calibration is None:
        calibration = calibrate(bundle, method, settings, scorer=scorer, save=save)
        if progress:
            print(f"calibrated {method} on {len(calibration.validation_scores)} normal validation images: "
                  f"threshold {calibration.threshold:.6g} ({calibration.rule})", flush=True)
    return scorer, calibration


def run_job(
    out,
    dataset: str = "mnist-5k",
    data: Optional[str] = None,
    normal: Sequence = ("0",),
    epochs: int = 200,
    batch_size: int = 32,
    encoder_epochs: int = 30,
    methods: Sequence[str] = ("encoder", "hybrid", "feature-knn"),
    settings: Optional[ScoringSettings] = None,
    limit: Optional[int] = None,
    seed: int = 0,
    progress: bool = True,
) -> JobResult:
    """Run the whole job into ``out`` (bundle, results and evaluation per method).

    Example:
        >>> result = run_job("runs/demo")  # doctest: +SKIP
        >>> result.metrics["encoder"]["auroc"]  # doctest: +SKIP
    """
    settings = settings or ScoringSettings()
    out = Path(out)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        from anogan.errors import AnoganError

        raise AnoganError(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    bundle = train(dataset, normal=list(normal), epochs=epochs, out=out, data=data, batch_size=batch_size,
                   seed=seed, resume=True, progress=progress)
    if bundle.encoder is None and any(m in ENCODER_METHODS for m in methods):
        bundle = train_encoder(bundle, epochs=encoder_epochs, seed=seed, progress=progress)
    bundle = load_bundle(out)
    job = JobResult(bundle_path=out)
    source = open_input(f"{dataset}:test", data, limit=limit, sample_seed=seed)
    for method in methods:
        scorer, calibration = prepare_scorer(bundle, method, settings, progress)
        results = out / f"results_{method}.csv"
        score_to_csv(source, scorer, calibration, results, maps_dir=out / f"maps_{method}", resume=True,
                     progress=progress)
        job.results[method] = results
        job.metrics[method] = evaluate(results, out / f"evaluation_{method}")
    return job
