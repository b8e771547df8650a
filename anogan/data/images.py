"""Decoding arbitrary image files into the model's 28x28 grayscale format.

Every image is converted the same way, wherever it comes from (a dataset
folder, the batch scorer, a dashboard upload):

1. decode with Pillow, refusing files whose header claims more than
   :data:`MAX_PIXELS` pixels before any pixel data is read;
2. flatten transparency onto a black background (MNIST digits are white on
   black), map 16-bit and float images to 0-255, convert to grayscale;
3. resize so that the longer side is 28 pixels, keeping the aspect ratio,
   and pad the shorter side symmetrically with black.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from anogan.errors import ImageError

IMAGE_SIZE = 28
MAX_PIXELS = 40_000_000
MAX_FILE_BYTES = 64 * 1024 * 1024
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

ImageSource = Union[str, os.PathLike, bytes, BinaryIO]


def _read_bytes(source: ImageSource) -> bytes:
    if isinstance(source, bytes):
        data = source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
        if size > MAX_FILE_BYTES:
            raise ImageError(f"file too large ({size} bytes; limit {MAX_FILE_BYTES})")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read file: {exc.strerror or exc}") from None
    else:
        data = source.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(f"file too large (over {MAX_FILE_BYTES} bytes)")
    if len(data) == 0:
        raise ImageError("empty file (0 bytes)")
    return data


def _to_gray_array(image: Image.Image) -> np.ndarray:
    """Return a float array in [0, 255] of shape (height, width)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        # 16-bit PNGs decode to mode "I"; scale the 16-bit range down to 8 bits.
        scale = 65535.0 if values.max(initial=0) > 255 or image.mode.startswith("I;16") else 255.0
        return np.clip(values * (255.0 / scale), 0, 255)
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        if values.max(initial=0) <= 1.0:
            values = values * 255.0
        return np.clip(values, 0, 255)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("L"), dtype=np.float64)


def _fit_to_square(gray: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    height, width = gray.shape
    # PIL's resize to the same size is a copy: skip it (an eighth of an API call under load)
    if height == width == size:
        return np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    scale = size / max(height, width)
    new_h = max(1, round(height * scale))
    new_w = max(1, round(width * scale))
    resized = Image.fromarray(gray.astype(np.float32)).resize(
        (new_w, new_h), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    )
    canvas = np.zeros((size, size), dtype=np.float32)
    top = (size - new_h) // 2
    left = (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = np.asarray(resized)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)


def read_image(source: ImageSource) -> np.ndarray:
    """Decode an image file into a ``(28, 28)`` ``uint8`` grayscale array.

    Args:
        source: a path, the file's bytes, or a binary file object.

    Returns:
        The image as white-on-black grayscale, 28x28, dtype ``uint8``.

    Raises:
        ImageError: with the reason, for an empty, truncated, oversized or
            non-image file.

    Example:
        >>> read_image("data/samples/normal_0_0.png").shape  # doctest: +SKIP
        (28, 28)
    """
    data = _read_bytes(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"image too large ({width}x{height} pixels; limit {MAX_PIXELS} pixels)"
                )
            if width == 0 or height == 0:
                raise ImageError(f"image has no pixels ({width}x{height})")
            image.load()
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("not a recognised image file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"image too large (its header claims over {MAX_PIXELS} pixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"corrupt or truncated image data: {exc}") from None
    return _fit_to_square(_to_gray_array(image))


def list_image_files(folder: Union[str, os.PathLike]) -> list[Path]:
    """All files below ``folder`` (recursive, sorted), images or not.

    Every file is returned, not only those with an image suffix, so that the
    batch scorer can report a non-image file as an error row instead of
    silently skipping it. Hidden files and folders are left out.
    """
    root = Path(folder)
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file():
            files.append(path)
    return files


def save_image(array: np.ndarray, path: Union[str, os.PathLike]) -> None:
    """Save a 2-D ``uint8`` array as a grayscale PNG."""
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def png_bytes(array: np.ndarray) -> bytes:
    """A 2-D (grayscale) or 3-D (RGB) ``uint8`` array as PNG file contents."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def heatmap_rgb(anomaly_map: np.ndarray, vmax: float = 2.0) -> np.ndarray:
    """Colour a residual map |x - G(z)| (model units, 0..2) as an RGB ``uint8`` heat map.

    The colour scale is fixed (0 to ``vmax``), so maps of different images compare directly.
    """
    from matplotlib import colormaps

    scaled = np.clip(np.asarray(anomaly_map, dtype=np.float64) / vmax, 0.0, 1.0)
    return (colormaps["inferno"](scaled)[..., :3] * 255).round().astype(np.uint8)
