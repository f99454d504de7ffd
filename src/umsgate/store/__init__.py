"""The store: the only place that speaks SQL.

``tables`` holds the SQLAlchemy Core schema (the source of the Alembic migrations),
``queries`` the named queries, ``database`` the engine set-up per dialect (SQLite in
WAL mode with one writer connection; PostgreSQL with a pool and ``SKIP LOCKED`` claims).
"""

from __future__ import annotations
