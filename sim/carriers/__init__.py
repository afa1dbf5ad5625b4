"""Simulated carriers: China Mobile, Unicom, Telecom and Broadnet behind one HTTP service on loopback.

Run it as its own process (``fanzha sim carriers`` or ``python -m sim.carriers``); the product only talks to
it over HTTP with signed envelopes (``fanzha.telecom.carriers.messages``), never imports it.

Modules, one job each: ``registry`` (who holds each number - the allocation data unless a number was
registered or moved - and what was done to it), ``handlers`` (instruction -> answer body), ``service`` (keys,
stored answers per idempotency key, faults, stats, the message flow), ``state`` (``--state FILE``), ``app``
(HTTP), ``__main__`` (command line). Faults are the simulated banks' (``sim.banks.faults``): timeout, 500,
duplicate, late.
"""
