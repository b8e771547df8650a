import io

import numpy as np
import pytest
from PIL import Image

from anogan.data.images import list_image_files, read_image
from anogan.errors import ImageError


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_28x28_grayscale_round_trips_exactly():
    array = np.random.default_rng(0).integers(0, 256, size=(28, 28), dtype=np.uint8)
    assert np.array_equal(read_image(_png_bytes(Image.fromarray(array))), array)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA", "1", "I;16", "CMYK"])
def test_every_mode_becomes_28x28_uint8(mode):
    base = Image.new("L", (40, 30), 0)
    base.paste(255, (15, 10, 25, 20))
    image = base.convert(mode) if mode != "I;16" else Image.fromarray(np.asarray(base, dtype=np.uint16) * 257)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    result = read_image(buffer.getvalue())
    assert result.shape == (28, 28) and result.dtype == np.uint8
    assert result.max() > 200, "the white square must survive the conversion"


def test_aspect_ratio_is_kept_and_padded_with_black():
    wide = Image.new("L", (280, 140), 255)
    result = read_image(_png_bytes(wide))
    assert (result[7:21] > 250).all()
    assert (result[:6] == 0).all() and (result[22:] == 0).all()


def test_transparent_background_becomes_black():
    image = Image.new("RGBA", (28, 28), (255, 255, 255, 0))
    assert read_image(_png_bytes(image)).max() == 0


def test_sixteen_bit_range_is_scaled_not_clipped():
    array = np.full((28, 28), 32768, dtype=np.uint16)
    result = read_image(_png_bytes(Image.fromarray(array)))
    assert 120 <= result.mean() <= 135


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"", "empty"),
        (b"hello, I am text pretending to be a PNG", "not a recognised image"),
    ],
)
def test_bad_files_raise_image_error_with_reason(payload, reason):
    with pytest.raises(ImageError, match=reason):
        read_image(payload)


def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(png_claiming_size):
    with pytest.raises(ImageError, match="too large"):
        read_image(png_claiming_size(30000, 30000))


def test_truncated_png_is_reported_as_corrupt():
    data = _png_bytes(Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8)))
    with pytest.raises(ImageError, match="corrupt|truncated"):
        read_image(data[: len(data) // 2])


def test_missing_path_is_an_image_error(tmp_path):
    with pytest.raises(ImageError, match="cannot read"):
        read_image(tmp_path / "nope.png")


def test_list_image_files_is_recursive_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b/2.png", "a.png", ".hidden/x.png", ".dot.png"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_image_files(tmp_path)] == ["a.png", "b/2.png"]
