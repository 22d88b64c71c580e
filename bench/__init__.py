"""Benchmarks of cf-events at 1 M (default) or 10 M events: `python -m bench [--scale 10m] [--quick]`.

A PostgreSQL cluster of its own is kept in bench/data/ between runs and loaded (with COPY) only when
its row counts differ from what was asked; the service runs under gunicorn and is measured from
loopback by a small threaded HTTP client, each shape next to the same SQL run directly through
psycopg2. The results go to stdout and to bench/RESULTS.md.
"""
