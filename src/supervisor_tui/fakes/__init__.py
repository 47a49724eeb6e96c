"""Fake backend servers that speak the real wire formats, for tests, the demo and benchmarks."""
