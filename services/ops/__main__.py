"""python -m services.ops: the operators' commands (see docs/operations.md)."""

from services.ops.cli import main

main()
