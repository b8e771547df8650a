import csv
import json

import numpy as np
import pytest
from PIL import Image

from anogan.errors import AnoganError
from anogan.gan.bundle import RunDirectory, load_bundle
from anogan.gan.networks import make_feature_extractor
from anogan.gan.training import TrainConfig, train


def _train(dataset, out, resume=False, progress=False, checkpoint_seconds=0.0, **settings):
    """train() with the settings as keywords, as the tests read best; a checkpoint every epoch unless told."""
    return train(TrainConfig(dataset, **settings), out, resume=resume, progress=progress,
                 checkpoint_seconds=checkpoint_seconds)


def _history_epochs(run_dir):
    with open(run_dir / "history.csv") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def test_training_writes_every_artifact(trained_run):
    run_dir = trained_run.path
    for name in ("generator.keras", "discriminator.keras", "bundle.json", "history.csv", "run.json"):
        assert (run_dir / name).is_file(), name
    assert _history_epochs(run_dir) == [1, 2]
    with open(run_dir / "history.csv") as handle:
        for row in csv.DictReader(handle):
            assert np.isfinite(float(row["gen_loss"])) and np.isfinite(float(row["disc_loss"]))
            assert float(row["images_per_second"]) > 0
    grid = Image.open(run_dir / "samples" / "epoch_0002.png")
    assert grid.size == (8 * 28, 8 * 28)
    metadata = json.loads((run_dir / "bundle.json").read_text())
    assert metadata["normal_classes"] == [0]
    assert metadata["latent_dim"] == 100 and metadata["image_shape"] == [28, 28, 1]
    assert metadata["training"]["epochs"] == 2 and metadata["training"]["n_train"] == 54
    assert {"tensorflow", "keras", "numpy"} <= set(metadata["versions"])


def test_bundle_round_trip_gives_identical_outputs(trained_run):
    loaded = load_bundle(trained_run.path)
    noise = np.random.default_rng(5).standard_normal((4, 100)).astype("float32")
    images = trained_run.generator(noise, training=False).numpy()
    assert np.array_equal(loaded.generator(noise, training=False).numpy(), images)
    assert np.array_equal(
        make_feature_extractor(loaded.discriminator)(images).numpy(),
        make_feature_extractor(trained_run.discriminator)(images).numpy(),
    )


def test_same_seed_and_data_give_the_same_weights(tmp_path, shapes_npz):
    runs = [
        _train("mnist", normal=[1], epochs=1, out=tmp_path / name, data=shapes_npz, batch_size=32,
              seed=7, jit_compile=False, progress=False)
        for name in ("a", "b")
    ]
    for left, right in zip(_weights(runs[0].generator), _weights(runs[1].generator)):
        assert np.array_equal(left, right)


@pytest.mark.slow
def test_resume_after_an_interrupted_epoch_continues_where_it_stopped(tmp_path, shapes_npz, monkeypatch):
    run_dir = tmp_path / "run"
    options = dict(normal=[0], out=run_dir, data=shapes_npz, batch_size=32, seed=0,
                   jit_compile=False, progress=False)
    original_save = RunDirectory.save_checkpoint

    def crash_at_epoch_two(self, epoch, models, state):
        if epoch == 2:
            raise KeyboardInterrupt
        original_save(self, epoch, models, state)

    monkeypatch.setattr(RunDirectory, "save_checkpoint", crash_at_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        _train("mnist", epochs=3, **options)
    monkeypatch.undo()
    assert RunDirectory(run_dir).latest_epoch() == 1
    with pytest.raises(AnoganError, match="no bundle.json.*--resume"):
        load_bundle(run_dir)
    with pytest.raises(AnoganError, match="--resume"):
        _train("mnist", epochs=3, **options)

    trained_epochs = []
    original_step = RunDirectory.save_checkpoint
    monkeypatch.setattr(
        RunDirectory, "save_checkpoint",
        lambda self, epoch, models, state: (trained_epochs.append(epoch), original_step(self, epoch, models, state)),
    )
    bundle = _train("mnist", epochs=3, resume=True, **options)
    assert trained_epochs == [2, 3]
    assert _history_epochs(run_dir) == [1, 2, 3]
    assert bundle.metadata["training"]["epochs"] == 3
    assert load_bundle(run_dir).generator is not None


@pytest.mark.slow
def test_checkpoints_are_spaced_in_time_but_the_first_and_last_epochs_always_have_one(tmp_path, shapes_npz,
                                                                                      monkeypatch):
    saved = []
    original_save = RunDirectory.save_checkpoint
    monkeypatch.setattr(RunDirectory, "save_checkpoint",
                        lambda self, epoch, models, state: (saved.append(epoch), original_save(self, epoch, models, state)))
    options = dict(normal=[0], data=shapes_npz, batch_size=32, seed=0, progress=False, checkpoint_seconds=3600)
    _train("mnist", out=tmp_path / "run", epochs=4, **options)
    assert saved == [1, 4] and _history_epochs(tmp_path / "run") == [1, 2, 3, 4]
    saved.clear()
    _train("mnist", out=tmp_path / "run", epochs=6, resume=True, **options)  # a longer run continues the last
    assert saved == [5, 6]


def test_a_run_asked_for_fewer_epochs_than_its_folder_holds_is_refused(tmp_path, shapes_npz):
    options = dict(normal=[0], data=shapes_npz, batch_size=32, seed=0, out=tmp_path / "run")
    _train("mnist", epochs=2, **options)
    with pytest.raises(AnoganError, match="trained for 2 epochs, more than the 1"):
        _train("mnist", epochs=1, resume=True, **options)


def test_resume_refuses_different_settings(tmp_path, shapes_npz):
    options = dict(out=tmp_path / "run", data=shapes_npz, batch_size=32, jit_compile=False, progress=False)
    _train("mnist", normal=[0], epochs=1, **options)
    with pytest.raises(AnoganError, match="normal"):
        _train("mnist", normal=[1], epochs=2, resume=True, **options)


def test_resume_reads_a_setting_missing_from_an_older_run_as_its_default(tmp_path, shapes_npz):
    options = dict(out=tmp_path / "run", data=shapes_npz, batch_size=32, jit_compile=False, progress=False)
    _train("mnist", normal=[0], epochs=1, **options)
    run_file = tmp_path / "run" / "run.json"
    stored = json.loads(run_file.read_text())
    del stored["precision"]
    run_file.write_text(json.dumps(stored))
    assert _train("mnist", normal=[0], epochs=1, resume=True, **options).metadata["training"]["epochs"] == 1
    with pytest.raises(AnoganError, match="precision"):
        _train("mnist", normal=[0], epochs=2, resume=True, precision="mixed_bfloat16", **options)


def test_invalid_options_are_refused(tmp_path, shapes_npz):
    with pytest.raises(AnoganError, match="epochs"):
        _train("mnist", normal=[0], epochs=0, out=tmp_path / "r", data=shapes_npz)


@pytest.mark.slow
def test_xla_step_trains_too(tmp_path, shapes_npz):
    bundle = _train("mnist", normal=[0], epochs=1, out=tmp_path / "xla", data=shapes_npz,
                   batch_size=32, jit_compile=True, progress=False)
    assert _history_epochs(bundle.path) == [1]


def test_mixed_bfloat16_training_saves_a_float32_bundle(tmp_path, shapes_npz):
    bundle = _train("mnist", normal=[0], epochs=1, out=tmp_path / "bf16", data=shapes_npz, batch_size=32,
                   precision="mixed_bfloat16", progress=False)
    loaded = load_bundle(bundle.path)
    assert all(layer.dtype_policy.name == "float32" for layer in loaded.generator.layers)
    assert loaded.metadata["training"]["precision"] == "mixed_bfloat16"
    with pytest.raises(AnoganError, match="precision"):
        _train("mnist", normal=[0], epochs=1, out=tmp_path / "x", data=shapes_npz, precision="float8")


@pytest.mark.parametrize("averaged_role, trained_against", [("generator", "discriminator"),
                                                            ("discriminator", "generator")])
@pytest.mark.slow
def test_an_ema_changes_only_the_saved_model_it_averages(tmp_path, shapes_npz, averaged_role, trained_against):
    common = dict(normal=[0], epochs=2, data=shapes_npz, batch_size=32, seed=3, progress=False)
    option = f"{averaged_role}_ema"
    plain = _train("mnist", out=tmp_path / "plain", **common)
    averaged = _train("mnist", out=tmp_path / "ema", **{option: 0.9}, **common)
    # the document's train step runs on the raw weights, so the other network is the same weight for weight
    for left, right in zip(_weights(getattr(plain, trained_against)), _weights(getattr(averaged, trained_against))):
        assert np.array_equal(left, right)
    assert not all(np.array_equal(a, b) for a, b in zip(_weights(getattr(plain, averaged_role)),
                                                        _weights(getattr(averaged, averaged_role))))
    assert load_bundle(averaged.path).metadata["training"][option] == 0.9
    with pytest.raises(AnoganError, match=f"{averaged_role}'s EMA"):
        _train("mnist", out=tmp_path / "bad", **{option: 1.0}, **common)


@pytest.mark.slow
def test_the_adam_settings_train_both_networks_and_are_recorded(tmp_path, shapes_npz):
    from anogan.gan.networks import make_discriminator, make_generator
    from anogan.gan.trainer import GANTrainer

    trainer = GANTrainer(make_generator(8), make_discriminator(), learning_rate=2e-4, beta_1=0.5)
    for optimizer in (trainer.generator_optimizer, trainer.discriminator_optimizer):
        assert np.isclose(float(optimizer.learning_rate), 2e-4) and optimizer.beta_1 == 0.5
    common = dict(normal=[0], epochs=1, data=shapes_npz, batch_size=32, seed=3, latent_dim=8, progress=False)
    plain = _train("mnist", out=tmp_path / "plain", **common)
    faster = _train("mnist", out=tmp_path / "faster", learning_rate=2e-4, beta_1=0.5, **common)
    for role in ("generator", "discriminator"):
        assert not all(np.array_equal(a, b) for a, b in zip(_weights(getattr(plain, role)),
                                                            _weights(getattr(faster, role))))
    training = load_bundle(faster.path).metadata["training"]
    assert (training["learning_rate"], training["beta_1"]) == (2e-4, 0.5)
    with pytest.raises(AnoganError, match="learning rate"):
        _train("mnist", out=tmp_path / "bad", learning_rate=0.0, **common)
    with pytest.raises(AnoganError, match="beta_1"):
        _train("mnist", out=tmp_path / "bad", beta_1=1.0, **common)


@pytest.mark.slow
@pytest.mark.parametrize("ema, discriminator, augment", [(0.0, "document", ""), (0.9, "document", ""),
                                                          (0.0, "spectral", "translation,cutout")])
def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, shapes_npz, ema, discriminator,
                                                                     augment):
    # the checkpoint carries the optimisers (with their weight averages), the noise, the Dropout states,
    # the augmentation's random state and spectral normalisation's vectors
    common = dict(normal=[0], data=shapes_npz, batch_size=32, seed=3, progress=False,
                  generator_ema=ema, discriminator_ema=ema, discriminator=discriminator, diff_augment=augment)
    straight = _train("mnist", epochs=2, out=tmp_path / "straight", **common)
    _train("mnist", epochs=1, out=tmp_path / "resumed", **common)
    resumed = _train("mnist", epochs=2, out=tmp_path / "resumed", resume=True, **common)
    for model in ("generator", "discriminator"):
        for left, right in zip(_weights(getattr(straight, model)), _weights(getattr(resumed, model))):
            assert np.array_equal(left, right)


def test_a_discriminator_kind_and_diffaugment_train_a_bundle_that_scores(tmp_path, shapes_npz):
    from anogan.scoring.scorer import Scorer

    bundle = _train("mnist", epochs=1, out=tmp_path / "run", normal=[0], data=shapes_npz, batch_size=32,
                    discriminator="wide-spectral", diff_augment="translation,cutout")
    kinds = [type(layer).__name__ for layer in load_bundle(bundle.path).discriminator.layers]
    assert kinds.count("SpectralNormalization") == 3
    assert load_bundle(bundle.path).discriminator.layers[0].layer.filters == 128
    assert bundle.metadata["training"]["diff_augment"] == "translation,cutout"
    features = make_feature_extractor(bundle.discriminator)(np.zeros((1, 28, 28, 1), np.float32))
    assert features.shape == (1, 7 * 7 * 128)  # f(x) keeps its size
    scores = Scorer(bundle, "feature-knn").score(np.zeros((2, 28, 28), np.uint8)).score
    assert np.isfinite(scores).all()
    with pytest.raises(AnoganError, match="discriminator"):
        TrainConfig("mnist", normal=[0], epochs=1, discriminator="huge")
    with pytest.raises(AnoganError, match="augmentation"):
        TrainConfig("mnist", normal=[0], epochs=1, diff_augment="rotation")


def test_a_split_seed_holds_out_the_same_validation_images_for_another_seed(tmp_path, shapes_npz):
    options = dict(data=shapes_npz, normal=[0], epochs=1, batch_size=32)
    own = _train("mnist", out=tmp_path / "seed0", seed=0, **options)
    shared = _train("mnist", out=tmp_path / "seed1-split0", seed=1, split_seed=0, **options)
    other = _train("mnist", out=tmp_path / "seed1", seed=1, **options)
    np.testing.assert_array_equal(shared.validation_images(), own.validation_images())
    assert not np.array_equal(other.validation_images(), own.validation_images())
    assert not np.array_equal(_weights(shared.generator), _weights(own.generator))  # the weights are seed 1's
    assert shared.metadata["training"]["split_seed"] == 0
    assert TrainConfig("mnist", normal=[0], epochs=1, seed=2, split_seed=2).split_seed is None  # its own split
    with pytest.raises(AnoganError, match="split seed"):
        TrainConfig("mnist", normal=[0], epochs=1, split_seed=-1)
