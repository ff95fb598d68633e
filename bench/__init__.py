"""Benchmarks: the product against the bare machinery it runs on, in one run.

`python -m bench` (or `make bench`); see bench/README.md for what each figure means.
"""
