"""Synthetic call detail records (CDRs) with planted fraud numbers, for tests and benchmarks.

Modules: ``population`` (the seeded subscribers: ordinary users, planted fraud numbers, benign heavy callers such
as couriers, delivery riders and call centres, each with its own way of calling), ``generator`` (CDR rows in
chunks, vectorised with numpy, written as CSV or Parquet, with a truth file and optional bad rows),
``__main__`` (command line: ``python -m sim.cdr``).
"""
