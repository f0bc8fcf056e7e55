"""Digits as text: an ASCII ramp (works anywhere, even piped) and half-block cells with grey levels.

Pure Python over 784 bytes, so the app can draw digits without importing torch. A terminal
cell is about twice as tall as wide, so each text row stands for two pixel rows.
"""

from __future__ import annotations

from typing import Sequence

from rich.style import Style
from rich.text import Text

RAMP = " .:-=+*#%@"
SIDE = 28


def downsample(pixels: Sequence[int] | bytes, factor: int) -> list[list[int]]:
    """Average factor x factor blocks of a 28x28 image (factor 1, 2, 4 or 7)."""
    if len(pixels) != SIDE * SIDE:
        raise ValueError(f"expected {SIDE * SIDE} pixels, got {len(pixels)}")
    side = SIDE // factor
    out = [[0] * side for _ in range(side)]
    area = factor * factor
    for r in range(side):
        for c in range(side):
            total = 0
            for dr in range(factor):
                base = (r * factor + dr) * SIDE + c * factor
                for dc in range(factor):
                    total += pixels[base + dc]
            out[r][c] = total // area
    return out


def render_ascii(pixels: Sequence[int] | bytes, size: int = 28) -> list[str]:
    """`size` columns by size/2 rows of ramp characters; size is 28 or 14."""
    grid = downsample(pixels, SIDE // size)
    lines = []
    for r in range(0, len(grid) - 1, 2):
        row = []
        for c in range(len(grid)):
            level = (grid[r][c] + grid[r + 1][c]) // 2
            row.append(RAMP[min(level * len(RAMP) // 256, len(RAMP) - 1)])
        lines.append("".join(row))
    return lines


def _grey(level: int) -> str:
    return f"rgb({level},{level},{level})"


def render_halfblock(pixels: Sequence[int] | bytes, size: int = 28) -> Text:
    """Each cell is '▀' with the upper pixel as foreground and the lower as background.

    Grey levels degrade gracefully: Textual/Rich map rgb to the 256- or 16-colour palette
    when the terminal lacks true colour.
    """
    grid = downsample(pixels, SIDE // size)
    text = Text()
    for r in range(0, len(grid) - 1, 2):
        for c in range(len(grid)):
            top, bottom = grid[r][c], grid[r + 1][c]
            text.append("▀", Style(color=_grey(top), bgcolor=_grey(bottom)))
        if r + 2 < len(grid):
            text.append("\n")
    return text


def sample_strip(images: Sequence[bytes], labels: Sequence[int], predictions: Sequence[int],
                 classes: Sequence[str], size: int = 14, per_row: int = 8) -> list[str]:
    """Rows of ASCII digits with 'pred/true' captions, wrong ones marked with an x, for plain output."""
    lines: list[str] = []
    width = size + 2
    for start in range(0, len(images), per_row):
        chunk = range(start, min(start + per_row, len(images)))
        rendered = [render_ascii(images[i], size) for i in chunk]
        for row in range(len(rendered[0])):
            lines.append("".join(r[row].ljust(width) for r in rendered).rstrip())
        captions = []
        for i in chunk:
            mark = "ok" if predictions[i] == labels[i] else "x "
            captions.append(f"{mark}{classes[predictions[i]][:5]}/{classes[labels[i]][:5]}"[:width - 1].ljust(width))
        lines.append("".join(captions).rstrip())
    return lines
