"""Digits as text: the ASCII ramp, half-block cells with grey levels, and the captioned sample strip."""

from __future__ import annotations

import io

import pytest
import torch
from rich.console import Console

from core.render import RAMP, downsample, render_ascii, render_halfblock, sample_strip

BLACK, WHITE = bytes(784), bytes([255] * 784)


def image(fn) -> bytes:
    """28x28 bytes with pixel (r, c) = fn(r, c)."""
    return bytes(fn(r, c) for r in range(28) for c in range(28))


def ascii_oracle(pixels: bytes, size: int) -> list[str]:
    """The same mapping computed with tensor ops: block means, pairs of rows, then the ramp."""
    f = 28 // size
    grid = torch.tensor(list(pixels)).view(size, f, size, f).sum((1, 3)) // (f * f)
    levels = (grid[0::2] + grid[1::2]) // 2
    return ["".join(RAMP[min(int(v) * len(RAMP) // 256, len(RAMP) - 1)] for v in row) for row in levels]


@pytest.mark.parametrize("size, rows", [(28, 14), (14, 7)])
def test_ascii_shape_and_extremes(size: int, rows: int) -> None:
    assert render_ascii(BLACK, size) == [" " * size] * rows
    assert render_ascii(WHITE, size) == ["@" * size] * rows


def test_ascii_places_strokes_where_the_pixels_are() -> None:
    top_half = render_ascii(image(lambda r, c: 255 if r < 14 else 0))
    assert top_half == ["@" * 28] * 7 + [" " * 28] * 7
    bar = render_ascii(image(lambda r, c: 255 if 10 <= c < 14 else 0))
    assert all(line == " " * 10 + "@" * 4 + " " * 14 for line in bar)
    bar14 = render_ascii(image(lambda r, c: 255 if 10 <= c < 14 else 0), 14)
    assert all(line == " " * 5 + "@@" + " " * 7 for line in bar14)


def test_ascii_grey_levels_follow_the_ramp() -> None:
    # one white row over one black row averages to 127: the middle of the ramp
    stripes = render_ascii(image(lambda r, c: 255 if r % 2 == 0 else 0))
    assert stripes == [RAMP[127 * len(RAMP) // 256] * 28] * 14
    gradient = render_ascii(image(lambda r, c: c * 9))  # 0..243 left to right
    assert gradient[0][0] == " " and gradient[0][-1] == "@" and len(set(gradient[0])) == len(RAMP)
    assert list(gradient[0]) == sorted(gradient[0], key=RAMP.index)  # never darker to the right


@pytest.mark.parametrize("size", [28, 14])
def test_ascii_matches_oracle_on_random_images(size: int) -> None:
    gen = torch.Generator().manual_seed(5)
    for _ in range(5):
        pixels = bytes(torch.randint(0, 256, (784,), generator=gen, dtype=torch.uint8).tolist())
        assert render_ascii(pixels, size) == ascii_oracle(pixels, size)


def test_ascii_accepts_lists_and_rejects_wrong_lengths() -> None:
    assert render_ascii(list(WHITE), 14) == ["@" * 14] * 7
    with pytest.raises(ValueError, match="expected 784 pixels, got 783"):
        render_ascii(bytes(783))
    with pytest.raises(ValueError):
        downsample(bytes(28 * 29), 2)


def test_downsample_averages_blocks() -> None:
    grid = downsample(image(lambda r, c: 255 if (r // 4 + c // 4) % 2 == 0 else 0), 4)
    assert len(grid) == 7 and all(len(row) == 7 for row in grid)
    assert grid[0][:3] == [255, 0, 255]
    assert downsample(image(lambda r, c: 100 if c % 2 else 0), 2)[3][3] == 50


@pytest.mark.parametrize("size", [28, 14])
def test_halfblock_cells_carry_top_and_bottom_pixels(size: int) -> None:
    pixels = image(lambda r, c: (r * 9) % 256)  # every pixel row a different grey
    text = render_halfblock(pixels, size)
    lines = text.plain.split("\n")
    assert lines == ["▀" * size] * (size // 2)
    f = 28 // size
    grid = downsample(pixels, f)
    assert len(text.spans) == size * size // 2
    for i, span in enumerate(text.spans):
        r, c = divmod(i, size)
        assert span.style.color.triplet == (grid[2 * r][c],) * 3
        assert span.style.bgcolor.triplet == (grid[2 * r + 1][c],) * 3


def test_halfblock_renders_as_truecolor_or_plain() -> None:
    pixels = image(lambda r, c: 255 if r == 0 else 0)
    out = io.StringIO()
    Console(file=out, color_system="truecolor", force_terminal=True, width=40).print(render_halfblock(pixels))
    rendered = out.getvalue()
    assert "38;2;255;255;255" in rendered and "48;2;0;0;0" in rendered  # white top over black bottom
    plain = io.StringIO()
    Console(file=plain, color_system=None, width=40).print(render_halfblock(pixels))
    assert "\x1b" not in plain.getvalue() and plain.getvalue().count("▀") == 28 * 14


def test_sample_strip_captions_and_wrapping() -> None:
    images = [WHITE, BLACK, image(lambda r, c: 255 if 10 <= c < 14 else 0)]
    classes = ["T-shirt/top", "Trouser", "Pullover"]
    lines = sample_strip(images, labels=[0, 1, 2], predictions=[0, 2, 2], classes=classes, size=14, per_row=2)
    assert len(lines) == 2 * (7 + 1)
    assert lines[0] == "@" * 14 and lines[7] == "okT-shi/T-shi   x Pullo/Trous"
    assert lines[8] == " " * 5 + "@@" and lines[15] == "okPullo/Pullo"
    assert all(len(line) <= 2 * 16 for line in lines) and all(line == line.rstrip() for line in lines)
    assert all(set(line) <= set(RAMP + "okx/TPulshirte-") for line in lines)
