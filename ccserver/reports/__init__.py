"""Reports: KPIs computed from plain rows, and CSV / XLSX export.

``kpis`` (contacts and agents), ``crm_kpis`` (complaints, follow-ups, surveys) and
``grouping`` (by day / week / month or any field) are pure functions over rows (mappings or
objects with the contacts-table field names), so the same data can be checked against SQL
aggregates; ``export`` turns result rows into CSV or XLSX bytes.
"""
