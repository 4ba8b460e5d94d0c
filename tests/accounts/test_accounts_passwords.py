"""Password hashing uses argon2id with the library's production parameters."""

from __future__ import annotations

import pytest

from callcenter.accounts import passwords


def test_production_hasher_is_argon2id_with_rfc9106_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Undo the fast test hasher: this is the one production builds.
    monkeypatch.setattr(passwords, "_hasher", passwords.production_hasher())
    hashed = passwords.hash_password("a long enough passphrase")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(hashed, "a long enough passphrase")
    assert not passwords.verify_password(hashed, "a long enough passphrasE")
    assert not passwords.needs_rehash(hashed)


def test_garbage_hash_and_huge_password_are_simply_wrong() -> None:
    assert not passwords.verify_password("not-a-hash", "whatever it is")
    good = passwords.hash_password("a long enough passphrase")
    assert not passwords.verify_password(good, "x" * 5000)
