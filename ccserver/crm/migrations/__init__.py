"""Alembic environment and revisions of the CRM schema (packaged with ccserver)."""
