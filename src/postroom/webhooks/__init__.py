"""Webhook subscriptions and the signed delivery of events to them."""
