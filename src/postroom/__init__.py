"""Postroom: a self-hostable, Close-compatible Email activity service."""
