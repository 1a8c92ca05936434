-- Triggers end to end: subscriptions of both kinds in connectors.trigger_subscriptions, raw webhook deliveries
-- stored before the provider gets its 2xx, and the events outbox the workflow side reads and acknowledges.
-- Tenant-scoped by row-level security like every tenant table.

-- Subscriptions -------------------------------------------------------------------------------------------------
-- One row per enabled trigger (`kind`, migration 004): `webhook` rows are reached at /webhooks/{webhook_token}, an
-- unguessable endpoint id; `polling` rows need none and are run by the polling service.
ALTER TABLE connectors.trigger_subscriptions
  -- Options given when the trigger was enabled (kept for the polling side and for re-subscribing).
  ADD COLUMN config jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN status_detail text,
  -- When the renewal timer next re-registers the hook (a while before expires_at); NULL: never expires.
  ADD COLUMN renew_at timestamptz,
  ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now(),
  ALTER COLUMN webhook_token DROP NOT NULL,
  DROP CONSTRAINT trigger_subscriptions_status_check,
  -- pending: subscribe is running at the provider; active: receiving; stopped: disabled; failed: renewal or polling
  -- authentication failed for good.
  ADD CONSTRAINT trigger_subscriptions_status_check CHECK (status IN ('pending', 'active', 'failed', 'stopped'));

-- One live subscription per trigger and connection; stopped ones stay as history.
CREATE UNIQUE INDEX trigger_subscriptions_live ON connectors.trigger_subscriptions (connection_id, trigger_name)
  WHERE status IN ('pending', 'active');
CREATE INDEX trigger_subscriptions_tenant ON connectors.trigger_subscriptions (tenant_id, created_at);
CREATE INDEX trigger_subscriptions_renew ON connectors.trigger_subscriptions (renew_at) WHERE status = 'active' AND renew_at IS NOT NULL;

-- Ingress knows only the endpoint id from the URL, not the tenant, so the lookup cannot go through RLS: this
-- function (running as the schema owner) returns exactly the one webhook subscription behind an endpoint id, with
-- its trigger's manifest entry at the installed version, and nothing else.
CREATE FUNCTION connectors.resolve_webhook_endpoint(p_endpoint text)
  RETURNS TABLE (subscription_id uuid, tenant_id uuid, connection_id uuid, status text, trigger_name text,
                 connector_name text, connector_version text, fields jsonb, trigger jsonb)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, connectors
  AS $$
    SELECT s.id, s.tenant_id, s.connection_id, s.status, s.trigger_name::text, m.name::text, i.version::text, c.fields,
           (SELECT t FROM jsonb_array_elements(v.manifest -> 'triggers') t WHERE t ->> 'name' = s.trigger_name LIMIT 1)
    FROM connectors.trigger_subscriptions s
    JOIN connectors.connections c ON c.id = s.connection_id
    JOIN connectors.installations i ON i.id = c.installation_id
    JOIN connectors.marketplace m ON m.id = i.connector_id
    JOIN connectors.connector_versions v ON v.connector_id = i.connector_id AND v.version = i.version
    WHERE s.webhook_token = p_endpoint AND s.kind = 'webhook'
  $$;
REVOKE ALL ON FUNCTION connectors.resolve_webhook_endpoint(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION connectors.resolve_webhook_endpoint(text) TO bos_app;

-- Raw deliveries ------------------------------------------------------------------------------------------------
-- Exactly as received, stored before the 2xx; the same provider event (dedupe_key `id:<event id>`, or
-- `body:<sha256>` without one) is stored once per subscription. No foreign key to the subscription: deliveries and
-- events outlive it (a deleted connection does not erase what the workflow side may still have to read).
CREATE TABLE connectors.trigger_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  subscription_id uuid NOT NULL,
  endpoint_id text NOT NULL,
  event_id text,
  dedupe_key text NOT NULL,
  received_at timestamptz NOT NULL,
  headers jsonb NOT NULL,
  query jsonb NOT NULL,
  raw_body bytea NOT NULL,
  -- Set in the transaction that appended the delivery's events (also when there were none).
  processed_at timestamptz,
  UNIQUE (subscription_id, dedupe_key)
);
CREATE INDEX trigger_deliveries_tenant_time ON connectors.trigger_deliveries (tenant_id, received_at);

-- Events outbox -------------------------------------------------------------------------------------------------
-- At-least-once: rows stay until acknowledged and after. `position` orders a tenant's events; positions are taken
-- under a per-tenant advisory lock held until commit, so they become visible in increasing order.
CREATE SEQUENCE connectors.trigger_event_position AS bigint;
CREATE TABLE connectors.trigger_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  position bigint NOT NULL UNIQUE,
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  subscription_id uuid NOT NULL,
  key text NOT NULL,
  payload jsonb NOT NULL,
  occurred_at timestamptz,
  delivery_id uuid REFERENCES connectors.trigger_deliveries (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  acked_at timestamptz,
  UNIQUE (subscription_id, key)
);
CREATE INDEX trigger_events_tenant_position ON connectors.trigger_events (tenant_id, position);
CREATE INDEX trigger_events_subscription_position ON connectors.trigger_events (tenant_id, subscription_id, position);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['trigger_deliveries', 'trigger_events'] LOOP
    EXECUTE format('ALTER TABLE connectors.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE connectors.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY own_tenant ON connectors.%I FOR ALL USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant())', t);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE ON connectors.trigger_deliveries, connectors.trigger_events TO bos_app;
GRANT USAGE ON SEQUENCE connectors.trigger_event_position TO bos_app;
