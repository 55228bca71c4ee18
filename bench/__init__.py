"""Benchmark harness for learned image compression."""
