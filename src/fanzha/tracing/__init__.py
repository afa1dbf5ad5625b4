"""Following victims' money: the ledger, the trace engine, the CSV loader and the trace command."""
