"""`--list-presets`: plain lines when piped, a table that stays readable on an 80-column terminal."""

from __future__ import annotations

import io
import re
import sys

import pytest

from core.cli import main
from core.config import PRESETS

BOX = re.compile("[\u2500-\u257f]")  # box drawing


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_list_is_one_plain_line_per_preset(capsys):
    assert main(["--list-presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(PRESETS)
    for line, (name, preset) in zip(lines, PRESETS.items()):
        assert not BOX.search(line) and "\x1b" not in line
        assert line == (f"{name} | {preset.config.dataset} | {preset.description} | result: {preset.tutorial_result} "
                        f"| target test acc >= {preset.expected_test_acc:.3f}")


@pytest.mark.parametrize("width", [80, 120])
def test_terminal_table_fits_and_never_cuts_a_word(monkeypatch, width):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(["--list-presets"]) == 0
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue())
    lines = plain.splitlines()
    assert max(len(line) for line in lines) <= width
    cells = " ".join(BOX.sub(" ", line) for line in lines).split()
    for name, preset in PRESETS.items():
        # every word of the settings (784-512-256-10, 3136->10, 0.001...) shows whole on one line
        for word in f"{name} {preset.description} {preset.tutorial_result}".split():
            assert word in cells, f"{word!r} was wrapped mid-word at {width} columns"
        assert f"{preset.expected_test_acc:.3f}" in cells
