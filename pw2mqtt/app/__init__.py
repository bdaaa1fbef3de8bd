"""The command line and its commands: run, check, keys, pair, demo, simulate, healthcheck.

The top of the stack: imports whatever it needs; nothing imports it.
"""
