-- Polling triggers. A subscription row says whether it is a webhook or a polling subscription (`kind`) and may
-- override the manifest's interval (`poll_interval_ms`: plans with faster polling, tests). The polling engine's
-- state per subscription (the connector's cursor, the ids or the high-water timestamp already seen, failure and
-- backoff bookkeeping) is written after each successful poll, so a restarted service neither floods old items
-- nor emits one twice. Tenant-scoped by row-level security like every tenant table.
ALTER TABLE connectors.trigger_subscriptions
  ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'webhook' CHECK (kind IN ('webhook', 'polling'));
ALTER TABLE connectors.trigger_subscriptions
  ADD COLUMN IF NOT EXISTS poll_interval_ms integer CHECK (poll_interval_ms >= 100);
CREATE INDEX IF NOT EXISTS trigger_subscriptions_active_polling ON connectors.trigger_subscriptions (status)
  WHERE kind = 'polling';

CREATE TABLE connectors.poll_states (
  subscription_id uuid PRIMARY KEY REFERENCES connectors.trigger_subscriptions (id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  state jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX poll_states_tenant ON connectors.poll_states (tenant_id);

ALTER TABLE connectors.poll_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE connectors.poll_states FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON connectors.poll_states FOR ALL
  USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON connectors.poll_states TO bos_app;
