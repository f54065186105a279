"""row-level security: each transaction reaches only its tenant's rows (PostgreSQL)

The application connects as a member of ``registry_app``, a role that owns nothing; the tables
belong to the role that runs the migrations. Every table holding a rights holder's data has
row-level security enabled and forced, with a policy reading the transaction's
``registry.tenant`` setting, which the application sets at the start of every transaction
(``registry.services.tenancy``): an organisation id for a rights holder, ``*`` for customs
staff, command-line jobs and workers, and nothing at all before anyone has signed in. A query
run without the setting, by a request that forgot to authenticate or by someone with the
application's credentials and a SQL prompt, returns no tenant row.

Users, their sessions and API tokens are read before anyone is known (to sign in) and hold no
dossier data: they are not covered; nor are the audit head, its signed checkpoints and the
registry generation, which belong to no tenant. The audit events are: anyone may append one,
only customs staff or the event's own organisation may read it.

SQLite has no roles or policies: there this migration does nothing, and the application's own
tenant-scoped lookups (``tenancy.get_visible``, ``tenancy.scoped``) are the only line.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23

"""
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

APP_ROLE = 'registry_app'

SEES_ALL = "registry_sees_all()"
TENANT = "registry_tenant()"
VISIBLE_CASES = "(SELECT check_id FROM detention_cases)"

#: Table -> who may reach a row: customs staff and jobs (the ``*`` tenant) always, a rights
#: holder only where the condition holds. Subqueries see through the same policies, so "a case
#: of mine" is simply a row of ``detention_cases`` the transaction can see.
POLICIES = {
    'organisations': f"id = {TENANT}",
    'contact_persons': f"organisation_id = {TENANT}",
    'rights': f"organisation_id = {TENANT}",
    'products': f"organisation_id = {TENANT}",
    'product_features': "product_id IN (SELECT id FROM products)",
    'reference_images': f"organisation_id = {TENANT}",
    'suppliers': f"organisation_id = {TENANT}",
    'detention_cases': f"organisation_id = {TENANT}",
    'case_events': "case_id IN (SELECT id FROM detention_cases)",
    'notices': f"organisation_id = {TENANT}",
    'holder_responses': "case_id IN (SELECT id FROM detention_cases)",
    'samples': "case_id IN (SELECT id FROM detention_cases)",
    'evidence_exports': "case_id IN (SELECT id FROM detention_cases)",
    # A holder sees the goods of its own cases, and of the engine's suggestions only its own.
    'checks': f"id IN {VISIBLE_CASES}",
    'check_photos': f"check_id IN {VISIBLE_CASES}",
    'suggestions': f"check_id IN {VISIBLE_CASES} AND right_id IN (SELECT id FROM rights)",
    # Bulk screening is customs' own work.
    'bulk_jobs': "false",
    'bulk_chunks': "false",
    'bulk_hits': "false",
    'idempotent_replies': f"token_id IN (SELECT id FROM api_tokens WHERE organisation_id = {TENANT})",
}

#: Anyone may append to the audit chain (a failed sign-in is recorded before anyone is known);
#: reading, changing or deleting events is for the rows' own tenant or customs staff.
AUDIT_READ = f"{SEES_ALL} OR organisation_id = {TENANT}"


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
        END $$""")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    # Tables and sequences of later migrations, made by the same migrating role.
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
               f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}")
    # Stable SQL functions: evaluated once per statement, so an index on organisation_id serves.
    op.execute("""
        CREATE FUNCTION registry_sees_all() RETURNS boolean LANGUAGE sql STABLE AS
        $$ SELECT coalesce(current_setting('registry.tenant', true), '') = '*' $$""")
    op.execute("""
        CREATE FUNCTION registry_tenant() RETURNS integer LANGUAGE sql STABLE AS
        $$ SELECT CASE WHEN current_setting('registry.tenant', true) ~ '^[0-9]{1,9}$'
                       THEN current_setting('registry.tenant', true)::integer END $$""")
    for table, condition in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_rows ON {table} "
                   f"USING ({SEES_ALL} OR {condition}) WITH CHECK ({SEES_ALL} OR {condition})")
    op.execute("ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY append ON audit_events FOR INSERT WITH CHECK (true)")
    op.execute(f"CREATE POLICY tenant_read ON audit_events FOR SELECT USING ({AUDIT_READ})")
    op.execute(f"CREATE POLICY tenant_update ON audit_events FOR UPDATE USING ({SEES_ALL})")
    op.execute(f"CREATE POLICY tenant_delete ON audit_events FOR DELETE USING ({SEES_ALL})")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for policy in ('append', 'tenant_read', 'tenant_update', 'tenant_delete'):
        op.execute(f"DROP POLICY {policy} ON audit_events")
    op.execute("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_events DISABLE ROW LEVEL SECURITY")
    for table in POLICIES:
        op.execute(f"DROP POLICY tenant_rows ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION registry_tenant()")
    op.execute("DROP FUNCTION registry_sees_all()")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
    # The role is the cluster's, possibly shared with other databases: it stays.
