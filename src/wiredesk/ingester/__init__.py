"""The ingester: polls feeds, turns entries into Articles, enqueues them for the pipeline."""
