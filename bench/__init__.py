"""Side-by-side measurements of pw2mqtt and a peer bridge against the project's simulator.

Run `python -m bench --help` from the repository root; bench/README.md explains the figures.
"""
