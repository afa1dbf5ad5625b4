"""Carrier side: call detail records (CDRs), per-number features, the fraud-number detector, spoofed caller IDs,
potential victims and carrier actions (DOMAIN.md §5).

``cdr`` reads carriers' CDR files into a normalised Parquet dataset partitioned by number; ``features`` computes
the per-number features over a window with polars and ``distributed`` runs the same job on a Dask cluster;
``victims`` grades the people a flagged number called; ``cdr_cli`` holds the command-line functions.
"""
