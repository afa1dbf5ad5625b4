"""The signed message channel the center shares with its partners (banks, carriers).

One implementation of what every link has in common, each module with one job: ``wire`` (the v1 wire rules,
errors and routing), ``envelope`` (the signed envelope and how a channel builds, signs, reads and verifies
it), ``signing`` (Ed25519 over canonical JSON), ``keys`` (key files and keyrings, rotation), ``outbox`` (the
transactional outbox over a channel's table) and ``adapter`` (the loopback HTTP exchange and how its failures
are classified). ``fanzha.banking`` and ``fanzha.telecom.carriers`` supply their message types, bodies,
tables and error types.
"""
