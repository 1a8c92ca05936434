-- Credentials live in the runtime vault's records (one data key per tenant, wrapped by the master key; secrets
-- sealed with AES-256-GCM), kept here on the vault's behalf. connections.credentials is replaced by them.

ALTER TABLE connectors.connections DROP COLUMN credentials;

CREATE TABLE connectors.vault_data_keys (
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  version integer NOT NULL,
  master_key_id text NOT NULL,
  iv text NOT NULL,
  tag text NOT NULL,
  wrapped_key text NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, version)
);

CREATE TABLE connectors.vault_secrets (
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  connection_id uuid NOT NULL REFERENCES connectors.connections (id) ON DELETE CASCADE,
  key_version integer NOT NULL,
  iv text NOT NULL,
  tag text NOT NULL,
  ciphertext text NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, connection_id)
);

-- OAuth2 authorization-code flows in progress: single use (used_at), short-lived (expires_at).
CREATE TABLE connectors.oauth_states (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  installation_id uuid NOT NULL REFERENCES connectors.installations (id) ON DELETE CASCADE,
  connection_name varchar(200) NOT NULL,
  code_verifier text,
  redirect_uri text NOT NULL,
  fields jsonb NOT NULL DEFAULT '{}',
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['vault_data_keys', 'vault_secrets', 'oauth_states'] LOOP
    EXECUTE format('ALTER TABLE connectors.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE connectors.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY own_tenant ON connectors.%I FOR ALL USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant())', t);
  END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON connectors.vault_data_keys, connectors.vault_secrets, connectors.oauth_states TO bos_app;
