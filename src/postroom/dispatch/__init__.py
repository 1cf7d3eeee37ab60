"""The dispatcher: claims due emails, builds MIME, sends them, retries, recovers after crashes."""
