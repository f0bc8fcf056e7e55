"""mnist-tui's training engine: config, data, models, the Trainer and the run directory. Never imports textual."""
