"""Fixtures for call-control tests: real Redis (DB 11) under a key prefix of each test's own."""

from __future__ import annotations

from tests.redis_db import REDIS_URL, redis11_url, redis_prefix  # noqa: F401
