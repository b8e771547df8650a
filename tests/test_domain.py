"""Frames that are not images of the trained kind are flagged, with a reason, whatever their score."""

import numpy as np
import pytest

from anogan.scoring.domain import DomainCheck


@pytest.fixture(scope="module")
def far_off_frames():
    rng = np.random.default_rng(0)
    near_blank = rng.integers(0, 30, (4, 28, 28)).astype(np.uint8)
    near_blank[:, 14, 14] = 255  # one bright pixel on a dark, noisy frame
    saturated = np.full((4, 28, 28), 255, np.uint8) - rng.integers(0, 60, (4, 28, 28)).astype(np.uint8)
    return {"constant": np.full((4, 28, 28), 127, np.uint8), "black": np.zeros((2, 28, 28), np.uint8),
            "near-blank": near_blank, "saturated": saturated}


def test_the_check_passes_normal_images_and_names_each_far_off_kind(shapes_dataset, far_off_frames):
    normals = shapes_dataset.x_train[shapes_dataset.y_train == 0]
    check = DomainCheck.fit(normals)
    assert (check.reasons(shapes_dataset.x_test[shapes_dataset.y_test == 0]) == "").all()
    for kind, images in far_off_frames.items():
        expected = "constant image" if kind in ("constant", "black") else f"{kind} frame"
        assert all(reason.startswith(expected) for reason in check.reasons(images)), kind


def test_constant_normals_switch_the_constant_rule_off():
    normals = np.full((10, 28, 28), 200, np.uint8)
    assert (DomainCheck.fit(normals).reasons(np.full((1, 28, 28), 200, np.uint8)) == "").all()


def test_a_bundle_flags_far_off_frames_in_every_row_and_prediction(scoring_bundle, far_off_frames):
    from anogan.data.inputs import InputItem
    from anogan.results.rows import score_items
    from anogan.scoring.calibration import calibrate
    from anogan.scoring.scorer import Scorer

    scorer = Scorer(scoring_bundle, "encoder")
    calibration = calibrate(scorer, save=False)
    images = np.concatenate(list(far_off_frames.values()))
    items = [InputItem(index=i, path=f"frame{i}.png", image=image) for i, image in enumerate(images)]
    rows = score_items(scorer, calibration, items)
    assert all(row["is_anomaly"] is True and row["reason"] for row in rows)
    assert calibration.verdict(scorer.score(images)).all()
    normal = scoring_bundle.validation_images()
    assert (scorer.score(normal).reason == "").all()
