"""The operator console at ``/console`` and the admin API under ``/admin/api/``."""

from __future__ import annotations
