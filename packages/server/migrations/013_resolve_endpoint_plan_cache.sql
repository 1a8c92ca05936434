-- Webhook ingress and the delivery processor look endpoints up through connectors.resolve_webhook_endpoint
-- (migration 005) about once a second per busy endpoint in every process. As a LANGUAGE sql function with SET
-- search_path it is never inlined, so each call planned its five-table join again (~1 ms of backend CPU, measured
-- on the webhook ingress bench's store); PL/pgSQL keeps the plan for the session (~0.4 ms a call, mostly reading
-- the trigger out of the manifest). Same signature, result, owner rights and grants.
CREATE OR REPLACE FUNCTION connectors.resolve_webhook_endpoint(p_endpoint text)
  RETURNS TABLE (subscription_id uuid, tenant_id uuid, connection_id uuid, status text, trigger_name text,
                 connector_name text, connector_version text, fields jsonb, trigger jsonb)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, connectors
  AS $$
  #variable_conflict use_column
  BEGIN
    RETURN QUERY
    SELECT s.id, s.tenant_id, s.connection_id, s.status, s.trigger_name::text, m.name::text, i.version::text, c.fields,
           (SELECT t FROM jsonb_array_elements(v.manifest -> 'triggers') t WHERE t ->> 'name' = s.trigger_name LIMIT 1)
    FROM connectors.trigger_subscriptions s
    JOIN connectors.connections c ON c.id = s.connection_id
    JOIN connectors.installations i ON i.id = c.installation_id
    JOIN connectors.marketplace m ON m.id = i.connector_id
    JOIN connectors.connector_versions v ON v.connector_id = i.connector_id AND v.version = i.version
    WHERE s.webhook_token = p_endpoint AND s.kind = 'webhook';
  END
  $$;
