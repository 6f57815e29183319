"""A series' timelapse: one frame per date, true colour with the task's layer on it, the date and the area
figure above, the legend below; written as an animated GIF (atomically)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from geofm.config import CLASS_NODATA, HLS_NODATA, SERIES
from geofm.io.safewrite import atomic_output
from geofm.render.preview import stretch_max, to_rgb

HEADER_PX = 52
FOOTER_PX = 30
#: The frame is at least this wide, so the area figure's line fits above a narrow area's map.
FRAME_MIN_WIDTH = 560
LAYER_ALPHA = 0.65
UNCLEAR_GREY = 150
BACKGROUND = (24, 24, 28)
TEXT = (245, 245, 245)
MUTED = (190, 190, 196)


def frame_shape(height: int, width: int, *, max_px: int = SERIES.frame_max_px,
                min_px: int = SERIES.frame_min_px) -> tuple[int, int]:
    """(h, w) of a frame's map: the grid scaled so its longest side is between ``min_px`` and ``max_px``."""
    side = max(height, width)
    scale = min(max_px / side, max(1.0, min_px / side))
    return max(1, round(height * scale)), max(1, round(width * scale))


def true_colour(data: np.ndarray) -> np.ndarray:
    """(6, H, W) DN -> (H, W, 3) uint8 true colour of what the sensor saw (clouds included; fill black)."""
    seen = np.all(data != HLS_NODATA, axis=0)
    return to_rgb(data, seen, stretch_max(data, seen))


def resize(array: np.ndarray, shape: tuple[int, int], nearest: bool) -> np.ndarray:
    h, w = shape
    if array.shape[:2] == (h, w):
        return array
    enlarge = h >= array.shape[0]
    method = Image.Resampling.NEAREST if nearest or enlarge else Image.Resampling.BOX
    return np.asarray(Image.fromarray(np.ascontiguousarray(array)).resize((w, h), method))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib: has "²" and "·"), else Pillow's own font."""
    try:
        from matplotlib import font_manager  # lazy: matplotlib

        return ImageFont.truetype(font_manager.findfont("DejaVu Sans", fallback_to_default=True), size)
    except (ImportError, OSError, ValueError):
        pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def map_image(rgb: np.ndarray, classes: np.ndarray, target_class: int, color: tuple[int, int, int],
              shape: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8: ``rgb`` with the target class in ``color`` and unclear pixels (255) greyed and hatched."""
    rgb = resize(rgb, shape, nearest=False).astype(np.float32)
    cls = resize(classes, shape, nearest=True)
    out = rgb.copy()
    hit = cls == target_class
    out[hit] = (1 - LAYER_ALPHA) * rgb[hit] + LAYER_ALPHA * np.asarray(color, np.float32)
    unclear = cls == CLASS_NODATA
    out[unclear] = 0.45 * rgb[unclear] + 0.55 * UNCLEAR_GREY
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    hatch = unclear & ((yy + xx) % 8 == 0)
    out[hatch] = 90
    return np.clip(out, 0, 255).astype(np.uint8)


def compose_frame(map_rgb: np.ndarray, *, title: str, figure: str, legend: Sequence[tuple[str, tuple[int, int, int]]],
                  index: int, count: int) -> Image.Image:
    """The frame: a header (date, figure, frame k of n), the map, a footer legend."""
    h, w = map_rgb.shape[:2]
    width = max(w, FRAME_MIN_WIDTH)
    img = Image.new("RGB", (width, HEADER_PX + h + FOOTER_PX), BACKGROUND)
    img.paste(Image.fromarray(map_rgb), ((width - w) // 2, HEADER_PX))
    draw = ImageDraw.Draw(img)
    draw.text((10, 5), title, fill=TEXT, font=_font(20))
    draw.text((10, 30), figure, fill=MUTED, font=_font(14))
    draw.text((width - 10, 8), f"{index + 1}/{count}", fill=MUTED, font=_font(14), anchor="ra")
    x, y = 10, HEADER_PX + h + 8
    small = _font(13)
    for label, color in legend:
        draw.rectangle((x, y, x + 14, y + 14), fill=color, outline=TEXT)
        if color == (UNCLEAR_GREY,) * 3:
            for k in range(0, 15, 5):
                draw.line((x + k, y + 14, x + 14, y + k), fill=(90, 90, 90))
        draw.text((x + 20, y), label, fill=TEXT, font=small)
        x += 30 + int(draw.textlength(label, font=small))
    return img


def write_gif(frames: Sequence[Image.Image], path: str | Path, *, seconds: float = SERIES.frame_seconds) -> Path:
    """Frames (same size) as a looping GIF, written through ``atomic_output``."""

    if not frames:
        raise ValueError("a timelapse needs at least one frame")
    path = Path(path)
    with atomic_output(path) as tmp:
        first, *rest = [f.convert("RGB") for f in frames]
        first.save(tmp, format="GIF", save_all=True, append_images=rest, duration=int(seconds * 1000), loop=0,
                   optimize=False)
    return path
