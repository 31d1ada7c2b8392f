"""Public web forms (contact, complaint, callback request) and scheduled callbacks."""
