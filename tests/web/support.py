"""Helpers for web tests: sign in through the real form, read the CSRF token from a page."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
SECRET = "web-test-secret-key-0123456789-abcdefghijklmnop"

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF_FIELD.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def page_csrf(client: TestClient, path: str = "/login") -> str:
    """The CSRF token of the client's current session, from a page's hidden field."""
    return csrf_from(client.get(path).text)


def login(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    token = page_csrf(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
