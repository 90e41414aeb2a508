"""Decode one image file robustly into an RGB uint8 array, or say why not.

Only the formats photos come in are opened (:data:`ALLOWED_FORMATS`); Pillow's other plugins (DDS, ICO,
PSD, ...) are attack surface nobody asked for. Pixel values are
read by their mode's range, the same rule for every image, never guessed from
its content:

- 8-bit modes (``1``, ``L``, ``P``, ``RGB``, ``CMYK``, ``YCbCr``, ...): 0-255;
- integer modes (``I;16*``, ``I``, as 16-bit PNG and TIFF open): 0-65535, clipped;
- float mode ``F``: 0.0-1.0, clipped.

EXIF orientation is applied; alpha and a transparency colour (``L``, ``RGB``
or ``P`` with ``tRNS``) are composited on white. Anything else raises
:class:`RejectedImage` with a short reason for the rejected-files CSV.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""Pillow's names of the formats that are opened (JPEG's opener also takes a camera's multi-picture JPEG,
MPO); any other file is "not an image"."""

MAX_PIXELS = 50_000_000
"""Larger images are refused before decoding (decompression-bomb guard)."""

FULL_SCALE = {"F": 1.0, "I": 65535.0}
"""The value that is white, for the modes Pillow keeps at more than 8 bits (by first letter)."""


BAND_ROWS = 256
"""Rows copied or scaled at a time: a float64 copy of a whole 24-megapixel 16-bit image is 192 MB, so one
46 KB PNG made the service hold ~660 MB; in bands a decode holds about the image and its result."""


class RejectedImage(Exception):
    """The file is not a usable image; ``str(error)`` is the reason."""


def _bands(image: Image.Image) -> Iterator[tuple[slice, np.ndarray]]:
    """The image's rows BAND_ROWS at a time, as arrays: ``np.asarray`` of a whole image holds its bytes twice."""
    for top in range(0, image.height, BAND_ROWS):
        bottom = min(top + BAND_ROWS, image.height)
        yield slice(top, bottom), np.asarray(image.crop((0, top, image.width, bottom)))


def _scaled_to_8_bits(image: Image.Image, full_scale: float) -> Image.Image:
    """Mode ``I``/``F`` as ``L``: round(v x 255 / full_scale), clipped to 0-255."""
    scaled = np.empty((image.height, image.width), np.uint8)
    for rows, band in _bands(image):
        scaled[rows] = np.clip(np.round(band.astype(np.float64) * (255.0 / full_scale)), 0, 255)
    return Image.fromarray(scaled)


def _rgb_array(image: Image.Image) -> np.ndarray:
    """An RGB image as an ``(height, width, 3)`` uint8 array."""
    pixels = np.empty((image.height, image.width, 3), np.uint8)
    for rows, band in _bands(image):
        pixels[rows] = band
    return pixels


def _to_rgb(image: Image.Image) -> Image.Image:
    full_scale = FULL_SCALE.get(image.mode[0])
    if full_scale is not None:
        image = _scaled_to_8_bits(image, full_scale)
    if image.mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image if image.mode == "RGB" else image.convert("RGB")


MAX_FILE_BYTES = 256 * 2**20
"""A larger file is refused before it is read (a 50-megapixel PNG is about 150 MB)."""


def read_file(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file at ``path`` (a link to one is followed); RejectedImage for a device,
    a FIFO, a folder or a file over ``max_bytes``, before anything is read (opened without blocking, so a
    FIFO with no writer cannot hang the caller). An OSError of opening the file is the caller's."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(descriptor)
    except OSError:
        os.close(descriptor)
        raise
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise RejectedImage("not a regular file (a device, FIFO, socket or folder)")
    with os.fdopen(descriptor, "rb") as file:
        if info.st_size > max_bytes:
            raise RejectedImage(f"too large: {info.st_size} bytes (limit {max_bytes})")
        data = file.read(max_bytes + 1)  # a file growing while read stops here too
    if len(data) > max_bytes:
        raise RejectedImage(f"too large: over {max_bytes} bytes (limit {max_bytes})")
    return data


def decode_image(path: str | Path) -> np.ndarray:
    """Return the image file at ``path`` (:func:`read_file`) as an ``(height, width, 3)`` uint8 RGB array."""
    return decode_bytes(read_file(path))


def decode_bytes(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return an encoded image (a file's bytes) as an ``(height, width, 3)`` uint8 RGB array; an image of
    more than ``max_pixels`` is refused from its header, before its pixels are decoded."""
    if not data:
        raise RejectedImage("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on damaged files: the result is what counts
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise RejectedImage(f"too large: {width}x{height} pixels (limit {max_pixels})")
                image.seek(0)
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # not a copy of every photo that needs no turn
                return _rgb_array(_to_rgb(image))
    except RejectedImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise RejectedImage(f"too large: {error}") from None
    except Image.UnidentifiedImageError:
        raise RejectedImage("not an image") from None
    except MemoryError:
        raise RejectedImage("too large to decode in this memory") from None
    except Exception as error:  # a damaged file makes Pillow's decoders raise nearly anything; it is the file's
        reason = " ".join(str(error).split())[:120] or type(error).__name__
        raise RejectedImage(f"corrupt image: {reason}") from None


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an RGB uint8 array to ``size`` x ``size`` (bilinear, aspect not kept)."""
    if image.shape[:2] == (size, size):
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
