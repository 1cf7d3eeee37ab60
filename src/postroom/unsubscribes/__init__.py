"""The organization's unsubscribe list (``/unsubscribe/email/``)."""
