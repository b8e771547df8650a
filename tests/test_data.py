import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from anogan.data.datasets import (
    Dataset,
    from_model_range,
    load_dataset,
    load_idx_folder,
    load_image_folder,
    to_model_range,
    validate_images,
)
from anogan.data.protocol import one_class_split, resolve_classes
from anogan.errors import AnoganError


def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


def test_npz_loader_reads_keras_layout(shapes_npz, shapes_dataset):
    dataset = load_dataset("mnist", shapes_npz)
    assert np.array_equal(dataset.x_train, shapes_dataset.x_train)
    assert np.array_equal(dataset.y_test, shapes_dataset.y_test)
    assert dataset.class_names == tuple(str(d) for d in range(10))


def test_idx_loader_reads_the_four_gz_files(tmp_path, shapes_dataset):
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", shapes_dataset.x_train)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", shapes_dataset.y_train)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", shapes_dataset.x_test)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", shapes_dataset.y_test)
    dataset = load_dataset("fashion-mnist", tmp_path)
    assert np.array_equal(dataset.x_test, shapes_dataset.x_test)
    assert np.array_equal(dataset.y_train, shapes_dataset.y_train)
    assert dataset.class_names[1] == "Trouser"


def test_idx_loader_names_a_missing_file(tmp_path, shapes_dataset):
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", shapes_dataset.x_train)
    with pytest.raises(AnoganError, match="train-labels-idx1-ubyte"):
        load_idx_folder(tmp_path, "mnist", [str(d) for d in range(10)])


def test_idx_loader_rejects_a_bad_magic_number(tmp_path):
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(tmp_path / f"{stem}.gz", "wb") as handle:
            handle.write(b"\x12\x34\x56\x78" + b"\0" * 20)
    with pytest.raises(AnoganError, match="magic"):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x_train": np.zeros((2, 28, 28))}, "missing arrays y_train, x_test, y_test"),
        ({"x_train": np.full((2, 28, 28), np.nan), "y_train": [0, 0], "x_test": np.zeros((1, 28, 28)), "y_test": [0]}, "NaN"),
        ({"x_train": np.zeros((2, 28, 27)), "y_train": [0, 0], "x_test": np.zeros((1, 28, 28)), "y_test": [0]}, "shape"),
        ({"x_train": np.zeros((2, 28, 28)), "y_train": [0], "x_test": np.zeros((1, 28, 28)), "y_test": [0]}, "does not match"),
        ({"x_train": np.full((2, 28, 28), 300), "y_train": [0, 0], "x_test": np.zeros((1, 28, 28)), "y_test": [0]}, "span"),
        ({"x_train": np.zeros((2, 28, 28), dtype=complex), "y_train": [0, 0], "x_test": np.zeros((1, 28, 28)), "y_test": [0]}, "dtype"),
        ({"x_train": np.zeros((2, 28, 28)), "y_train": [0, 12], "x_test": np.zeros((1, 28, 28)), "y_test": [0]}, "outside"),
    ],
)
def test_bad_npz_files_give_clear_errors(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(AnoganError, match=message):
        load_dataset("mnist", path)


def test_a_non_npz_file_is_refused(tmp_path):
    path = tmp_path / "fake.npz"
    path.write_text("not a zip")
    with pytest.raises(AnoganError, match="not a readable .npz"):
        load_dataset("mnist", path)


def test_missing_file_and_unknown_dataset(tmp_path):
    with pytest.raises(AnoganError, match="not found"):
        load_dataset("mnist", tmp_path / "absent.npz")
    with pytest.raises(AnoganError, match="unknown dataset"):
        load_dataset("cifar")


def test_mnist_offline_without_cache_says_what_to_pass(monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure: name resolution failed")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(AnoganError, match="--data"):
        load_dataset("mnist")


def test_mnist_5k_is_the_embedded_real_subset():
    dataset = load_dataset("mnist-5k")
    assert dataset.x_train.shape == (4000, 28, 28) and dataset.x_test.shape == (1000, 28, 28)
    assert np.bincount(dataset.y_train).tolist() == [400] * 10
    assert np.bincount(dataset.y_test).tolist() == [100] * 10
    train_rows = {row.tobytes() for row in dataset.x_train}
    assert not any(row.tobytes() in train_rows for row in dataset.x_test)


def test_validate_images_accepts_common_layouts():
    flat = np.zeros((3, 784), dtype=np.uint8)
    assert validate_images(flat).shape == (3, 28, 28)
    unit = np.full((2, 28, 28, 1), 1.0)
    assert validate_images(unit).max() == 255


def test_model_range_round_trip():
    images = np.arange(256, dtype=np.uint8).repeat(4)[:784].reshape(1, 28, 28)
    scaled = to_model_range(images)
    assert scaled.shape == (1, 28, 28, 1) and scaled.min() >= -1 and scaled.max() <= 1
    assert np.array_equal(from_model_range(scaled), images)


def test_one_class_split_trains_on_normal_images_only(shapes_dataset):
    split = one_class_split(shapes_dataset, normal=["disc"], val_fraction=0.2, seed=3)
    normal_train = shapes_dataset.x_train[shapes_dataset.y_train == 0]
    assert len(split.x_train) + len(split.x_val) == len(normal_train)
    assert len(split.x_val) == 12
    train_keys = {image.tobytes() for image in split.x_train}
    assert all(image.tobytes() not in train_keys for image in split.x_val)
    assert all(image.tobytes() in {n.tobytes() for n in normal_train} for image in split.x_train)
    test_keys = {image.tobytes() for image in shapes_dataset.x_test}
    assert not any(image.tobytes() in test_keys for image in split.x_train)
    assert np.array_equal(split.y_test, shapes_dataset.y_test)
    assert np.array_equal(split.is_anomaly_test, shapes_dataset.y_test != 0)


def test_one_class_split_supports_several_normal_classes(shapes_dataset):
    split = one_class_split(shapes_dataset, normal=[0, "cross"], val_fraction=0.0)
    assert split.normal_classes == (0, 2)
    assert len(split.x_train) == 120 and len(split.x_val) == 0
    assert split.is_anomaly_test.sum() == 20


def test_one_class_split_errors(shapes_dataset):
    with pytest.raises(AnoganError, match="unknown class 'star'"):
        one_class_split(shapes_dataset, normal=["star"])
    empty = Dataset("e", ("a", "b"), shapes_dataset.x_train[:2], np.array([0, 0]),
                    shapes_dataset.x_test[:1], np.array([1]))
    with pytest.raises(AnoganError, match="no training images"):
        one_class_split(empty, normal=["b"])


def test_resolve_classes_by_name_or_index():
    names = ("T-shirt/top", "Trouser", "Pullover")
    assert resolve_classes(names, ["trouser", 0, "2"]) == (0, 1, 2)


def test_folder_loader_handles_rgb_gray_and_odd_sizes(tmp_path):
    rng = np.random.default_rng(0)
    for cls, mode in (("cat", "RGB"), ("dog", "L")):
        (tmp_path / cls).mkdir()
        for i in range(5):
            size = (rng.integers(10, 80), rng.integers(10, 80))
            Image.new(mode, size, "white").save(tmp_path / cls / f"{i}.png")
    (tmp_path / "dog" / "broken.png").write_bytes(b"garbage")
    dataset = load_image_folder(tmp_path)
    assert dataset.class_names == ("cat", "dog")
    assert len(dataset.x_train) + len(dataset.x_test) == 10
    assert len(dataset.x_test) == 2
    assert dataset.x_train.dtype == np.uint8 and dataset.x_train.shape[1:] == (28, 28)


def test_folder_loader_uses_train_and_test_subfolders(tmp_path):
    for split, count in (("train", 3), ("test", 2)):
        for cls in ("a", "b"):
            folder = tmp_path / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("L", (28, 28), 40 * i).save(folder / f"{i}.png")
    dataset = load_dataset("folder", tmp_path)
    assert len(dataset.x_train) == 6 and len(dataset.x_test) == 4
    assert dataset.y_test.tolist() == [0, 0, 1, 1]


def test_dev_split_never_touches_the_test_split_or_the_training_images(shapes_dataset):
    from anogan.data.protocol import dev_split

    dev = dev_split(shapes_dataset, normal=["disc"], val_fraction=0.2, seed=3, n_anomalies=50)
    trained = one_class_split(shapes_dataset, ["disc"], 0.2, seed=3)
    # Every dev image comes from the training split, and none is one the model trains on.
    for index in (dev.fit_index, dev.normal_index, dev.anomaly_index):
        assert not np.isin(index, trained.train_index).any()
    assert np.array_equal(np.sort(np.r_[dev.fit_index, dev.normal_index]), trained.val_index)
    assert not np.isin(dev.fit_index, dev.normal_index).any()
    assert (shapes_dataset.y_train[dev.normal_index] == 0).all()
    assert (dev.y_anomaly != 0).all() and len(dev.x_anomaly) == 50
    assert np.array_equal(dev.x_anomaly, shapes_dataset.x_train[dev.anomaly_index])
    # No dev image is a test image (pixel for pixel).
    test_images = {image.tobytes() for image in shapes_dataset.x_test}
    for images in (dev.x_fit, dev.x_normal, dev.x_anomaly):
        assert not any(image.tobytes() in test_images for image in images)
    again = dev_split(shapes_dataset, normal=["disc"], val_fraction=0.2, seed=3, n_anomalies=50)
    assert np.array_equal(again.anomaly_index, dev.anomaly_index)


def test_dev_split_needs_anomalies_and_two_validation_images(shapes_dataset):
    from anogan.data.protocol import dev_split

    with pytest.raises(AnoganError, match="validation"):
        dev_split(shapes_dataset, normal=["disc"], val_fraction=0.0)
    with pytest.raises(AnoganError, match="not normal"):
        dev_split(shapes_dataset, normal=["disc", "bar", "cross"])
