"""``Idempotency-Key`` for creates: claim, create once, replay (see ``service``)."""
