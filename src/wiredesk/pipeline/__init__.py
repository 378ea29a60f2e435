"""The pipeline: stages (pure functions in ``stages/``) and the thin tasks that run them."""
