"""Files: upload grants, signed uploads, downloads, attachments' storage and expiry."""
