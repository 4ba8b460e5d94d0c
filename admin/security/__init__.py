"""The web app's security layer: signed session cookie, CSRF, default-deny guard, headers."""
