import json
import shutil

import pytest

from anogan.artifacts import atomic_path, load_bundle
from anogan.errors import AnoganError


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
    from anogan.artifacts import sha256_file

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
