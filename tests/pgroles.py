"""The PostgreSQL login role that tests and benchmarks connect as, as production's app does."""

from __future__ import annotations

#: The login role the application's tests connect as: a member of ``registry_app`` (migration
#: 0014), neither superuser nor owner of any table, so row-level security applies to it.
APP_LOGIN_ROLE = "registry_test_app"


def as_application_role(owner_url: str) -> str:
    """``owner_url`` (a migrated database) as the application connects to it in production."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(owner_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as admin:
        try:
            admin.execute(f"""
                DO $$ BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_LOGIN_ROLE}') THEN
                        CREATE ROLE {APP_LOGIN_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
                    END IF;
                END $$""")
        except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
            pass  # another test run on the same server made it at the same moment
        admin.execute(f"GRANT registry_app TO {APP_LOGIN_ROLE}")
    return url.set(username=APP_LOGIN_ROLE, password=None).render_as_string(hide_password=False)
