import json

import numpy as np
import pytest

from anogan.errors import AnoganError
from anogan.scoring.calibration import Calibration, calibrate, calibrate_scores, f1_max_threshold, stored_calibration
from anogan.scoring.scorer import Scorer
from anogan.scoring.settings import ScoringSettings


def test_conformal_threshold_and_normalized_score():
    scores = np.arange(1, 101, dtype=float)
    calibration = calibrate_scores("encoder", {}, scores, false_positive_rate=0.1)
    assert calibration.threshold == 91.0  # the ceil(101 * 0.9) = 91st smallest score
    assert calibration.expected_false_positive_rate == pytest.approx(10 / 101) and calibration.note == ""
    assert calibration.rule.startswith("conformal")
    normalized = calibration.normalize(np.array([-1e9, calibration.threshold, 1e9]))
    assert normalized.tolist() == pytest.approx([0.0, 0.5, 1.0])
    grid = calibration.normalize(np.linspace(0, 200, 50))
    assert np.all(np.diff(grid) >= 0) and grid.min() >= 0 and grid.max() <= 1
    assert calibration.is_anomaly(np.array([calibration.threshold, calibration.threshold + 1])).tolist() == [False, True]


def test_f1_max_threshold_separates_separable_scores():
    normal, anomalies = np.array([0.1, 0.2, 0.3]), np.array([0.7, 0.8])
    calibration = calibrate_scores("encoder", {}, normal, anomalies)
    assert calibration.rule == "f1-max" and calibration.n_anomalies == 2
    assert 0.3 < calibration.threshold < 0.7
    threshold, f1 = f1_max_threshold(np.array([0, 0, 0, 1, 1]), np.r_[normal, anomalies])
    assert f1 == pytest.approx(1.0) and 0.3 < threshold < 0.7


def test_constant_normal_scores_still_give_a_usable_scale():
    calibration = calibrate_scores("encoder", {}, np.full(5, 2.0))
    assert calibration.scale > 0 and calibration.normalize(np.array([2.0]))[0] == pytest.approx(0.5)


def test_calibration_needs_normal_scores():
    with pytest.raises(AnoganError, match="at least one"):
        calibrate_scores("encoder", {}, np.array([]))


def test_threshold_comes_from_the_bundles_normal_validation_images_only(scoring_bundle_copy, shapes_dataset):
    settings = ScoringSettings()
    scorer = Scorer(scoring_bundle_copy, "encoder", settings)
    calibration = calibrate(scorer)
    validation = scoring_bundle_copy.validation_images()
    assert len(validation) == 6
    expected = scorer.score(validation).score
    np.testing.assert_allclose(calibration.validation_scores, expected, rtol=1e-5)
    # 6 images are too few for 1 %; the stored scores keep 6 significant digits
    assert calibration.threshold == pytest.approx(max(calibration.validation_scores), rel=1e-5)
    assert "cannot promise" in calibration.note
    stored = json.loads((scoring_bundle_copy.path / "bundle.json").read_text())["calibration"]["encoder"]
    assert stored["threshold"] == pytest.approx(calibration.threshold)
    scorer.score(shapes_dataset.x_test)  # scoring other data never moves the threshold
    assert stored_calibration(scoring_bundle_copy, "encoder", settings).threshold == pytest.approx(calibration.threshold)


def test_stored_calibration_must_match_the_settings(scoring_bundle_copy):
    calibrate(Scorer(scoring_bundle_copy, "encoder", ScoringSettings(kappa=1.0)))
    assert stored_calibration(scoring_bundle_copy, "encoder", ScoringSettings(kappa=1.0)) is not None
    assert stored_calibration(scoring_bundle_copy, "encoder", ScoringSettings(kappa=3.0)) is None
    assert stored_calibration(scoring_bundle_copy, "encoder", ScoringSettings(kappa=1.0, steps=7)) is not None


def test_a_calibration_made_before_a_setting_existed_reads_it_as_its_default(scoring_bundle_copy):
    settings = ScoringSettings(hybrid_steps=2, batch_size=16)
    calibrate(Scorer(scoring_bundle_copy, "hybrid", settings))
    stored = scoring_bundle_copy.metadata["calibration"]["hybrid"]["settings"]
    del stored["critic_weight"]  # as written before the critic term existed
    assert stored_calibration(scoring_bundle_copy, "hybrid", settings) is not None
    changed = ScoringSettings(hybrid_steps=2, batch_size=16, standardize=True, critic_weight=0.5)
    assert stored_calibration(scoring_bundle_copy, "hybrid", changed) is None


def test_calibration_round_trips_through_a_dict():
    calibration = calibrate_scores("hybrid", {"lam": 0.1}, np.array([1.0, 2.0, 3.0]))
    assert Calibration.from_dict(json.loads(json.dumps(calibration.to_dict()))) == calibration


def test_a_read_only_bundle_still_calibrates_in_memory(scoring_bundle_copy, monkeypatch, caplog):
    def read_only():
        raise PermissionError("read-only file system")

    monkeypatch.setattr(scoring_bundle_copy, "save_metadata", read_only)
    calibration = calibrate(Scorer(scoring_bundle_copy, "encoder"))
    assert calibration.threshold > 0 and "could not store the calibration" in caplog.text


def test_too_few_normal_images_fall_back_to_the_smallest_rate_they_support():
    calibration = calibrate_scores("encoder", {}, np.arange(40.0), false_positive_rate=0.01)
    assert calibration.threshold == 39.0
    assert calibration.expected_false_positive_rate == pytest.approx(1 / 41)
    assert "40 normal validation images cannot promise" in calibration.note and "99" in calibration.note


def test_the_promised_rate_holds_on_new_normal_images():
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(400):
        calibration = calibrate_scores("encoder", {}, rng.standard_normal(199), false_positive_rate=0.05)
        rates.append(calibration.is_anomaly(rng.standard_normal(2000)).mean())
    assert np.mean(rates) == pytest.approx(0.05, abs=0.005)
    assert calibration.expected_false_positive_rate == pytest.approx(0.05)


def test_calibrations_of_older_rules_are_made_again():
    old = calibrate_scores("encoder", ScoringSettings().relevant_to("encoder"), np.arange(5.0)).to_dict()
    old.update(rule="percentile-99", percentile=99.0)
    del old["false_positive_rate"], old["expected_false_positive_rate"]
    assert not Calibration.from_dict(old).current
