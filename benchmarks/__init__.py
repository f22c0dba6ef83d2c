"""otgate's benchmark harness: every figure next to a baseline measured in the same process run.

`python -m benchmarks` (`make bench`) runs them all; see `benchmarks/__main__.py` and BENCHMARKS.md.
One module per figure, each with a `Size` (full) and `TINY` (smoke test) and a `run` returning `Figure`s.
"""
