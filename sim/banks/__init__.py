"""A simulated bank system: every bank of the BIN table behind one HTTP service on loopback.

Run it as its own process (``fanzha sim banks`` or ``python -m sim.banks``); the product only talks to it
over HTTP with signed envelopes (``fanzha.banking.messages``), never imports it.

Modules, one job each: ``ledger`` (accounts, transactions, holds and the legal rules; pure), ``handlers``
(instruction -> answer body), ``idempotency`` (one answer per key), ``faults`` (timeout, 500, duplicate,
late, deferred), ``seed`` (demo accounts), ``identity`` (keys: ``<keys-dir>/banks.keyring.json`` written,
``<keys-dir>/center.keyring.json`` read), ``state`` (``--state FILE``), ``service`` (the process's state
and message flow), ``app`` (HTTP), ``__main__`` (command line). Shared with the simulated carriers:
``sim.endpoint`` (the message endpoint and admin routes) and ``sim.stats`` (the counters).
"""
