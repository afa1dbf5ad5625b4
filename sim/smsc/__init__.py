"""A simulated SMSC (short message service centre) speaking SMPP 3.4 on loopback, for the flash-SMS sender.

``python -m sim.smsc --port 2775 --admin-port 2776`` serves SMPP on 127.0.0.1:2775 and a small admin HTTP API on
2776 that shows what arrived (every field of each accepted submit_sm, each refusal with its command_status and
reason, counters) and sets faults (drop the connection, throttle, delay, hold receipts). See ``server.py``.
"""
