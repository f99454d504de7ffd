"""The store: the only place that speaks SQL.

``tables`` holds the SQLAlchemy Core schema (the source of the Alembic migrations,
``migrate``), which only migrating loads; every operation runs SQL on the database
driver, grouped by what it holds: ``messages``, ``reports`` (and their webhook
deliveries), ``nodes``, ``accounts`` (clients, tokens), ``files``, ``operators``,
``lookup`` and ``console`` (reads of the API, CLI and console). ``transactions``
opens the one kind of transaction of the hot path, on its own connection;
``driver`` runs the other operations (and is all a front process loads);
``database`` sets up each dialect (SQLite in WAL mode with one writer connection;
PostgreSQL with a pool and ``SKIP LOCKED`` claims).
"""

from __future__ import annotations
