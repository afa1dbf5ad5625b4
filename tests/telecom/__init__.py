"""Tests of the carrier side: CDR ingestion, features, the Dask engine, potential victims."""
