"""`python -m tui`: the same program as the installed `mnist-tui` script."""

from tui.entry import entry_point

entry_point()
