"""Training health: generation metrics, the collapse and divergence rules, and what training does with them."""

from __future__ import annotations

import numpy as np
import pytest

from anogan.data.datasets import load_dataset, to_model_range
from anogan.errors import TrainingDiverged, TrainingStopped
from anogan.gan.bundle import RunDirectory
from anogan.gan.health import GenerationMetrics, HealthProbe, collapse_reasons
from anogan.gan.monitor import COLLAPSE, DIVERGENCE, DOMINANCE, epoch_events, health_line, health_warning, read_health
from anogan.gan.training import HealthOptions, TrainConfig, train


@pytest.fixture(scope="module")
def mnist5k():
    return load_dataset("mnist-5k")


@pytest.fixture(scope="module")
def probe(mnist5k):
    ones = mnist5k.x_train[mnist5k.y_train == 1]
    return HealthProbe(to_model_range(ones[:300]), latent_dim=100)


def test_real_held_out_images_score_near_the_floor(mnist5k, probe):
    ones = to_model_range(mnist5k.x_train[mnist5k.y_train == 1][300:450])
    sevens = to_model_range(mnist5k.x_train[mnist5k.y_train == 7][:150])
    same, other = probe.measure_images(ones), probe.measure_images(sevens)
    assert same.fd < 2 * probe.floor.fd + 0.5
    assert same.kid < 0.05
    assert same.recall > 0.6 and same.coverage > 0.6 and same.precision > 0.6
    assert same.duplicates < 0.2
    assert other.fd > 3 * same.fd and other.coverage < same.coverage


@pytest.mark.parametrize("kind", ["constant", "one training image"])
def test_a_collapsed_generator_is_flagged(mnist5k, probe, kind):
    one = to_model_range(mnist5k.x_train[mnist5k.y_train == 1][:1])
    image = np.zeros_like(one) - 1 if kind == "constant" else one
    metrics = probe.measure_images(np.repeat(image, 150, axis=0))
    assert metrics.recall < 0.1 and metrics.coverage < 0.1
    assert metrics.duplicates >= 0.5
    assert collapse_reasons(metrics)


def test_too_few_validation_images_are_refused():
    with pytest.raises(Exception, match="at least 8"):
        HealthProbe(np.zeros((5, 28, 28, 1), np.float32), latent_dim=4)


def _row(epoch, gen=0.8, disc=1.2, **metrics):
    return {"epoch": epoch, "gen_loss": gen, "disc_loss": disc, **metrics}


def _metrics(duplicates, recall=0.6, coverage=0.8):
    return {"duplicates": duplicates, "recall": recall, "coverage": coverage}


def test_an_untrained_uniform_generator_is_not_a_collapse():
    rows = [_row(1, **_metrics(1.0, 0.0, 0.0)), _row(2, **_metrics(1.0, 0.0, 0.0))]
    assert epoch_events(rows) == []


def test_collapse_after_diversity_is_flagged():
    rows = [_row(1, **_metrics(0.05)), _row(2, **_metrics(0.8, 0.5, 0.5))]
    assert [e.kind for e in epoch_events(rows)] == [COLLAPSE]
    falling = [_row(1, **_metrics(0.05, 0.6, 0.8)), _row(2, **_metrics(0.2, 0.2, 0.3))]
    assert [e.kind for e in epoch_events(falling)] == [COLLAPSE]
    # a measured epoch next to an unmeasured one (health every N epochs): only the measured ones count
    assert epoch_events([_row(1, **_metrics(0.05)), _row(2), _row(3, **_metrics(0.06))]) == []


def test_discriminator_dominance_and_exploding_losses_are_flagged():
    assert [e.kind for e in epoch_events([_row(1, gen=6.0, disc=0.01), _row(2, gen=8.0, disc=0.01)])] == [DOMINANCE]
    assert epoch_events([_row(1, gen=8.0, disc=0.01), _row(2, gen=6.0, disc=0.01)]) == []
    assert [e.kind for e in epoch_events([_row(1, gen=80.0, disc=0.5)])] == [DIVERGENCE]


@pytest.fixture(scope="module")
def short_and_longer(tmp_path_factory):
    """The same tiny run trained for 2 and for 12 epochs."""
    root = tmp_path_factory.mktemp("health")
    return {epochs: train(TrainConfig("mnist-5k", normal=[1], epochs=epochs, batch_size=32, val_fraction=0.3),
                          root / f"e{epochs}", progress=False, checkpoint_seconds=1e9)
            for epochs in (2, 12)}


def test_a_two_epoch_generator_scores_worse_than_a_trained_one(short_and_longer):
    short, longer = (short_and_longer[e].metadata["health"]["last"] for e in (2, 12))
    assert longer["fd"] < 0.8 * short["fd"]
    assert longer["kid"] < short["kid"]


def test_training_records_health_in_history_bundle_and_tensorboard(short_and_longer):
    bundle = short_and_longer[12]
    run = RunDirectory(bundle.path)
    rows = run.read_history(run.history)
    assert len(rows) == 12 and all(row["fd"] and row["recall"] for row in rows)
    health = bundle.metadata["health"]
    assert health["last"]["epoch"] == 12 and health["floor"]["fd"] > 0
    assert read_health(bundle.path)["floor"] == health["floor"]
    assert list(run.tensorboard.glob("events.out.tfevents.*"))
    assert "Fréchet distance" in health_line(bundle.metadata)


def test_measuring_health_does_not_change_the_trained_weights(tmp_path, short_and_longer):
    unmeasured = train(TrainConfig("mnist-5k", normal=[1], epochs=2, batch_size=32, val_fraction=0.3),
                       tmp_path / "off", progress=False, checkpoint_seconds=1e9, health=HealthOptions(every=0))
    for ours, theirs in zip(unmeasured.generator.get_weights(), short_and_longer[2].generator.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert unmeasured.metadata["health"]["last"] is None


def test_nan_losses_stop_the_run_and_leave_a_loadable_checkpoint(tmp_path, monkeypatch):
    import anogan.gan.training as training

    make_trainer, calls = training._trainer, {"n": 0}

    def failing_trainer(*args):
        trainer = make_trainer(*args)
        real_step = trainer.train_step

        def step(batch):  # 12 steps per epoch: epoch 3 gets a NaN loss
            calls["n"] += 1
            gen, disc = real_step(batch)
            return (gen * np.nan, disc) if calls["n"] > 2 * 12 else (gen, disc)

        trainer.train_step = step
        return trainer

    monkeypatch.setattr(training, "_trainer", failing_trainer)
    config = TrainConfig("mnist-5k", normal=[1], epochs=5, batch_size=32, val_fraction=0.3)
    with pytest.raises(TrainingDiverged, match=r"epoch 3 .*last checkpoint is epoch 2.*--epochs 2 --resume"):
        train(config, tmp_path / "run", progress=False, checkpoint_seconds=0)
    run = RunDirectory(tmp_path / "run")
    models, _ = run.load_checkpoint(run.latest_epoch())
    assert run.latest_epoch() == 2 and set(models) == {"generator", "discriminator"}
    assert [e["kind"] for e in read_health(run.path)["events"]] == [DIVERGENCE]


def test_stop_on_collapse_keeps_the_last_healthy_checkpoint(tmp_path, monkeypatch):
    diverse = GenerationMetrics(fd=1, kid=0.01, precision=0.8, recall=0.7, density=1, coverage=0.9,
                                duplicates=0.05, n_images=10)
    collapsed = GenerationMetrics(fd=9, kid=0.5, precision=1, recall=0.0, density=3, coverage=0.02,
                                  duplicates=1.0, n_images=10)
    measured = iter([diverse, diverse, collapsed])
    monkeypatch.setattr(HealthProbe, "measure", lambda self, generator: next(measured))
    config = TrainConfig("mnist-5k", normal=[1], epochs=5, batch_size=32, val_fraction=0.3)
    with pytest.raises(TrainingStopped, match="epoch 3: mode-collapse.*last checkpoint is epoch 2"):
        train(config, tmp_path / "run", progress=False, checkpoint_seconds=0,
              health=HealthOptions(every=4, stop_on_collapse=True))
    run = RunDirectory(tmp_path / "run")
    assert run.latest_epoch() == 2
    health = read_health(run.path)
    assert health["collapsed"] and health["every"] == 1
    assert "collapsed at epoch 3" in health_warning({"health": health})


def test_with_weight_averages_the_bundles_generator_is_the_one_measured(tmp_path):
    config = TrainConfig("mnist-5k", normal=[1], epochs=2, batch_size=32, val_fraction=0.3, generator_ema=0.9)
    bundle = train(config, tmp_path / "ema", progress=False, checkpoint_seconds=1e9)
    again = HealthProbe(to_model_range(bundle.validation_images()), bundle.latent_dim, seed=0).measure(bundle.generator)
    assert bundle.metadata["health"]["last"]["fd"] == pytest.approx(again.fd, rel=1e-3)


def test_gan_report_writes_a_table_and_a_figure(short_and_longer, tmp_path, capsys):
    import csv

    from anogan.cli import main

    assert main(["gan-report", "--model", str(short_and_longer[12].path), "--checkpoints",
                 "--out", str(tmp_path / "report")]) == 0
    printed = capsys.readouterr().out
    assert "floor (held-out normal images)" in printed and "memorisation ratio" in printed
    rows = list(csv.DictReader(open(tmp_path / "report" / "gan_report.csv")))
    assert [row["what"].split(" ")[0] for row in rows] == ["generator", "floor", "checkpoint"]
    assert float(rows[0]["fd"]) > float(rows[1]["fd"])  # a 12-epoch generator is above the floor
    assert (tmp_path / "report" / "gan_report.png").stat().st_size > 10_000
