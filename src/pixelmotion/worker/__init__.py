"""Background work: the claim loop and its steps (submit, poll, process)."""
