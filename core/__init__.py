"""mnist-tui's training engine: config, data, models, the Trainer and the run directory. Never imports textual."""

import os as _os

# Before anything imports torch: idle OpenMP threads sleep instead of spinning, which made two
# threads 2-4x slower than one whenever another process held a core (measured: core/perf.py).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
