"""Faults injected while a steady workload runs; afterwards nothing may be lost.

Run with `make test-faults`, or inside `make test` at the default size.
`XJCERT_FAULTS_SCALE=N` multiplies the work around each fault (see conftest.py).
"""
