"""The test kit's name for canned webhook answers (they live in `callcenter.scenarios.canned`)."""

from callcenter.scenarios.canned import WebhookFixtures

__all__ = ["WebhookFixtures"]
