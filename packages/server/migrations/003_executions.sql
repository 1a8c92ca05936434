-- Executions run through the API: synchronous ones are recorded when they finish, `?async=true` ones are queued
-- first and polled with GET /executions/{id}. Tenant-scoped by row-level security like every tenant table.
CREATE TABLE connectors.executions (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  connection_id uuid REFERENCES connectors.connections (id) ON DELETE SET NULL,
  connector_name varchar(255) NOT NULL,
  connector_version varchar(64) NOT NULL,
  action varchar(200) NOT NULL,
  status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  result jsonb,
  error jsonb,
  meta jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX executions_tenant_time ON connectors.executions (tenant_id, created_at);

ALTER TABLE connectors.executions ENABLE ROW LEVEL SECURITY;
ALTER TABLE connectors.executions FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON connectors.executions FOR ALL
  USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant());
GRANT SELECT, INSERT, UPDATE ON connectors.executions TO bos_app;
