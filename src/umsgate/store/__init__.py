"""The store: the only place that speaks SQL.

``tables`` holds the SQLAlchemy Core schema (the source of the Alembic migrations);
the operations are grouped by what they hold: ``messages``, ``reports`` (and their
webhook deliveries), ``nodes``, ``queries`` (clients, tokens, files), ``lookup`` and
``console`` (reads of the API, CLI and console). ``transactions`` opens the one kind
of transaction callers outside the store use, on the driver connection of the hot
path; ``database`` sets up each dialect (SQLite in WAL mode with one writer
connection; PostgreSQL with a pool and ``SKIP LOCKED`` claims).
"""

from __future__ import annotations
