import json
import shutil

import numpy as np
import pytest

from anogan.errors import AnoganError
from anogan.gan.bundle import load_bundle, reference_subset
from anogan.storage import atomic_path


@pytest.fixture
def bundle_copy(tmp_path, trained_run):
    target = tmp_path / "bundle"
    shutil.copytree(trained_run.path, target)
    return target


def _edit_metadata(path, **changes):
    metadata = json.loads((path / "bundle.json").read_text())
    metadata.update(changes)
    (path / "bundle.json").write_text(json.dumps(metadata))


def test_a_tampered_model_file_is_refused(bundle_copy):
    with open(bundle_copy / "generator.keras", "ab") as handle:
        handle.write(b"extra")
    with pytest.raises(AnoganError, match="do not match the hash"):
        load_bundle(bundle_copy)


def test_a_missing_model_file_is_refused(bundle_copy):
    (bundle_copy / "discriminator.keras").unlink()
    with pytest.raises(AnoganError, match="missing"):
        load_bundle(bundle_copy)


def test_unknown_schema_version_is_refused(bundle_copy):
    _edit_metadata(bundle_copy, schema_version=99)
    with pytest.raises(AnoganError, match="schema version 99"):
        load_bundle(bundle_copy)


def test_damaged_metadata_is_refused(bundle_copy):
    (bundle_copy / "bundle.json").write_text("{not json")
    with pytest.raises(AnoganError, match="damaged metadata"):
        load_bundle(bundle_copy)


def test_damaged_model_archive_is_refused_even_with_a_matching_hash(bundle_copy):
    from anogan.storage import sha256_file

    (bundle_copy / "generator.keras").write_bytes(b"PK\x03\x04 not really a zip")
    metadata = json.loads((bundle_copy / "bundle.json").read_text())
    metadata["files"]["generator.keras"] = sha256_file(bundle_copy / "generator.keras")
    (bundle_copy / "bundle.json").write_text(json.dumps(metadata))
    with pytest.raises(AnoganError, match="cannot load model"):
        load_bundle(bundle_copy)


def test_not_a_bundle(tmp_path):
    with pytest.raises(AnoganError, match="not a directory"):
        load_bundle(tmp_path / "absent")
    with pytest.raises(AnoganError, match="no bundle.json"):
        load_bundle(tmp_path)


def test_atomic_path_leaves_the_target_untouched_on_failure(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_reference_images_are_the_normal_training_images(trained_run):
    reference = trained_run.reference_images()
    validation = trained_run.validation_images()
    assert reference.dtype == np.uint8 and reference.shape == (54, 28, 28)
    held_out = {image.tobytes() for image in validation}
    assert not any(image.tobytes() in held_out for image in reference)


def test_reference_subset_is_bounded_and_fixed():
    images = np.arange(50, dtype=np.uint8).reshape(50, 1, 1) * np.ones((1, 28, 28), np.uint8)
    assert reference_subset(images, limit=60) is images
    subset = reference_subset(images, limit=20)
    assert len(subset) == 20 and len({image[0, 0] for image in subset}) == 20
    np.testing.assert_array_equal(subset, reference_subset(images, limit=20))


def test_set_reference_adds_images_to_a_bundle_saved_without_them(bundle_copy):
    metadata = json.loads((bundle_copy / "bundle.json").read_text())
    del metadata["files"]["reference.npz"]
    (bundle_copy / "bundle.json").write_text(json.dumps(metadata))
    (bundle_copy / "reference.npz").unlink()
    old = load_bundle(bundle_copy)
    assert not old.has_reference()
    old.set_reference(np.zeros((4, 28, 28), np.uint8))
    assert load_bundle(bundle_copy).reference_images().shape == (4, 28, 28)


def test_a_read_only_bundle_keeps_its_reference_images_in_memory(bundle_copy, monkeypatch, caplog):
    bundle = load_bundle(bundle_copy)

    def read_only(*args):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(bundle, "_write_images", read_only)
    bundle.set_reference(np.ones((3, 28, 28), np.uint8))
    assert bundle.has_reference() and bundle.reference_images().shape == (3, 28, 28)
    assert "could not store the reference images" in caplog.text
