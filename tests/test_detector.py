import numpy as np
import pytest

from anogan.detector import Detector
from anogan.errors import AnoganError
from anogan.scoring.settings import ScoringSettings


def test_detector_contract(tmp_path, shapes_dataset):
    normal = shapes_dataset.x_train[shapes_dataset.y_train == 0]
    detector = Detector(method="encoder", epochs=2, batch_size=16, encoder_epochs=1, out=str(tmp_path / "d"),
                        verbose=False)
    with pytest.raises(AnoganError, match="not fitted"):
        detector.predict(normal)
    assert detector.fit(normal) is detector
    assert detector.bundle_.encoder is not None
    scores = detector.decision_function(shapes_dataset.x_test)
    assert scores.shape == (60,) and np.isfinite(scores).all()
    np.testing.assert_array_equal(detector.score_samples(shapes_dataset.x_test), -scores)  # scikit-learn's sign
    np.testing.assert_array_equal(detector.predict(shapes_dataset.x_test), (scores > detector.threshold_).astype(int))
    assert detector.threshold_ == pytest.approx(max(detector.calibration_.validation_scores))  # 6 images: the max
    assert len(detector.calibration_.validation_scores) == 6


def test_detector_accepts_unit_float_images(tmp_path, shapes_dataset):
    normal = shapes_dataset.x_train[shapes_dataset.y_train == 0] / 255.0
    detector = Detector(method="anogan", epochs=1, batch_size=32, settings=ScoringSettings(steps=2), out=str(tmp_path / "d"),
                        verbose=False)
    assert detector.fit(normal).predict(normal[:3]).shape == (3,)


def test_detector_rejects_bad_input():
    with pytest.raises(AnoganError, match="unknown method"):
        Detector(method="magic").fit(np.zeros((4, 28, 28), np.uint8))
    with pytest.raises(AnoganError, match="shape"):
        Detector().fit(np.zeros((4, 32, 32), np.uint8))


def test_feature_knn_detector_needs_no_encoder(tmp_path, shapes_dataset):
    normal = shapes_dataset.x_train[shapes_dataset.y_train == 0]
    detector = Detector(method="feature-knn", epochs=1, batch_size=32, out=str(tmp_path / "d"), verbose=False).fit(normal)
    assert detector.bundle_.encoder is None
    assert len(detector.bundle_.reference_images()) == len(normal) - 6
    assert detector.decision_function(shapes_dataset.x_test).shape == (60,)


@pytest.mark.slow
def test_detector_trains_the_recommended_recipe_in_a_folder_it_removes(shapes_dataset):
    import gc

    normal = shapes_dataset.x_train[shapes_dataset.y_train == 0]
    detector = Detector(epochs=1, verbose=False).fit(normal)
    recorded = detector.bundle_.metadata["recipe"]
    assert recorded["name"] == "recommended" and recorded["overrides"] == {"epochs": 1, "min_steps": 0}
    assert detector.scorer_.method == "anogan" and detector.scorer_.settings.latent_bank == 16384
    folder = detector.bundle_.path
    assert folder.is_dir()
    blank = np.zeros((1, 28, 28), np.uint8)
    assert detector.predict(blank).tolist() == [1]  # not an image of the trained kind, whatever its score
    del detector
    gc.collect()
    assert not folder.exists(), "a bundle in a temporary folder goes with its detector"


def test_detector_is_a_scikit_learn_estimator():
    from sklearn.base import clone

    detector = Detector(method="feature-knn", epochs=3, settings=ScoringSettings(neighbours=2))
    copy = clone(detector)
    assert copy is not detector and copy.get_params() == detector.get_params()
    assert copy.set_params(epochs=7).epochs == 7 and detector.epochs == 3
