"""Recorded pipelines: the step executor (caching, verified inputs), the built-in steps,
the flights demo, and reruns."""
