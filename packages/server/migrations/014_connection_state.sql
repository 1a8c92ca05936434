-- The key/value store connectors get per connection (`ctx.store`: cursors, last seen ids, counters), kept in the
-- database so it survives restarts and is the same in every API and worker process (it was in memory per process).
-- One row per key; rows go with their connection. Tenant-scoped by row-level security like every tenant table.
CREATE TABLE connectors.connection_state (
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  connection_id uuid NOT NULL REFERENCES connectors.connections (id) ON DELETE CASCADE,
  key text NOT NULL,
  value jsonb NOT NULL,
  -- UTF-8 bytes of the key plus the value as JSON text when it was written, which the per-connection size limit adds
  -- up (jsonb's own text form spaces and orders it differently).
  bytes integer NOT NULL CHECK (bytes > 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, connection_id, key)
);
-- For the cascade when a connection is deleted.
CREATE INDEX connection_state_connection ON connectors.connection_state (connection_id);

ALTER TABLE connectors.connection_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE connectors.connection_state FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON connectors.connection_state FOR ALL
  USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON connectors.connection_state TO bos_app;
