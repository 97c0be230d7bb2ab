"""Benchmarks: Lookout and kubectl on the demo cluster, in a real pseudo-terminal, as tables."""
