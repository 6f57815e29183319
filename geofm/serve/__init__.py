"""Serving glue for the app: the GPU queue, cached runs, progress and stage timings."""
