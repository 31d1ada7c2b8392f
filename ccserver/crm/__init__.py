"""The CRM store (DESIGN.md §7): SQLAlchemy 2 async models, Alembic migrations, services.

Wiring (done once, in ``ccserver.app``)::

    engine = database.create_engine(url)          # SQLite (WAL) or PostgreSQL (asyncpg)
    await migrate.upgrade_engine(engine)           # schema only through migrations
    sessions = database.session_factory(engine)
    customers = CustomerService(sessions, default_region="DE")

Services (each method is one transaction). Customers, orders, users and audit entries come
back as frozen views; contacts and messages as detached rows (``contact_to_json``):

- ``customers.CustomerService``: create / create_or_get (validation, duplicate detection),
  get, update (optimistic, history), add/remove identity, find_by_phone (caller ID),
  search, merge, export, erase.
- ``orders.OrderService``, ``contacts.ContactService``, ``users.UserService`` (passwords,
  roles, API tokens), ``audit.AuditLog``.

Submodules are imported explicitly (``from ccserver.crm.customers import …``) so that
importing the package stays cheap for the parts that only need the models.
"""
