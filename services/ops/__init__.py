"""Operator commands for a bad day: `python -m services.ops --help` lists them."""
