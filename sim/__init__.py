"""Simulated partners of the center (banks, later carriers and the SMSC), run as separate processes.

Nothing under fanzha/ imports these: the product reaches them over HTTP or SMPP on 127.0.0.1 only.
"""
