"""mnist-tui's Textual app. It imports core; core never imports it."""
