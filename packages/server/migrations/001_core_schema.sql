-- Core schema of the connectors service: tenants, keys, marketplace listings and versions, artifacts,
-- submissions and reviews, installations, connections, ratings, trigger subscriptions, usage and audit.
-- Runs identically on PostgreSQL (>= 13) and PGlite.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Request transactions run as bos_app, which does not bypass row-level security. Roles are cluster-wide on
-- PostgreSQL, so another database or process may create it at the same moment: tolerate that race.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bos_app') THEN
    BEGIN
      CREATE ROLE bos_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolbypassrls)) THEN
    RAISE EXCEPTION 'The database user "%" owns the connectors schema and must be a superuser or have BYPASSRLS (ALTER ROLE % BYPASSRLS)', current_user, current_user;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper) THEN
    EXECUTE format('GRANT bos_app TO %I', current_user);
  END IF;
END
$$;

GRANT USAGE ON SCHEMA connectors TO bos_app;

-- The tenant of the current transaction, set by the service with set_config('bos.tenant_id', ..., true).
-- NULL when unset or empty (anonymous catalogue reads).
CREATE FUNCTION connectors.current_tenant() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('bos.tenant_id', true), '')::uuid $$;

-- Tenants and API keys --------------------------------------------------------------------------------------

CREATE TABLE connectors.tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name varchar(200) NOT NULL CHECK (length(name) > 0),
  is_platform boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tenants_one_platform ON connectors.tenants (is_platform) WHERE is_platform;

CREATE TABLE connectors.api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  name varchar(200) NOT NULL,
  prefix varchar(32) NOT NULL,
  key_hash char(64) NOT NULL UNIQUE,
  roles text[] NOT NULL CHECK (roles <@ ARRAY['tenant_admin', 'publisher', 'reviewer']::text[] AND cardinality(roles) > 0),
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_tenant ON connectors.api_keys (tenant_id);

-- Key lookup happens before the tenant is known, so it cannot go through RLS: this function (running as the
-- schema owner) returns exactly one key by its hash and nothing else.
CREATE FUNCTION connectors.resolve_api_key(p_hash text)
  RETURNS TABLE (id uuid, tenant_id uuid, name text, prefix text, roles text[], revoked_at timestamptz, is_platform boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, connectors
  AS $$
    SELECT k.id, k.tenant_id, k.name::text, k.prefix::text, k.roles, k.revoked_at, t.is_platform
    FROM connectors.api_keys k JOIN connectors.tenants t ON t.id = k.tenant_id
    WHERE k.key_hash = p_hash
  $$;
REVOKE ALL ON FUNCTION connectors.resolve_api_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION connectors.resolve_api_key(text) TO bos_app;

-- Marketplace -----------------------------------------------------------------------------------------------

-- Starts from the design document's connectors.marketplace table; `version` is the latest published version.
CREATE TABLE connectors.marketplace (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid REFERENCES connectors.tenants (id) ON DELETE CASCADE, -- NULL: global; else private to the tenant
  name varchar(255) NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,63}$'),
  description text,
  author varchar(255),
  npm_package varchar(255) NOT NULL,
  category varchar(100),
  version varchar(64),
  installs integer NOT NULL DEFAULT 0,
  approved boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  display_name varchar(255) NOT NULL,
  icon text,
  homepage text,
  verified boolean NOT NULL DEFAULT false,
  -- Display names of the latest version's actions and triggers, for search.
  keywords text NOT NULL DEFAULT '',
  rating_sum integer NOT NULL DEFAULT 0,
  rating_count integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', coalesce(name, '')), 'A') ||
    setweight(to_tsvector('english', coalesce(display_name, '') || ' ' || coalesce(keywords, '')), 'B') ||
    setweight(to_tsvector('english', coalesce(description, '')), 'C')
  ) STORED
);
CREATE UNIQUE INDEX marketplace_global_name ON connectors.marketplace (name) WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX marketplace_private_name ON connectors.marketplace (tenant_id, name) WHERE tenant_id IS NOT NULL;
CREATE INDEX marketplace_search ON connectors.marketplace USING gin (search);
CREATE INDEX marketplace_name_trgm ON connectors.marketplace USING gin (name gin_trgm_ops);
CREATE INDEX marketplace_category ON connectors.marketplace (category);
CREATE INDEX marketplace_installs ON connectors.marketplace (installs DESC);

-- Content-addressed connector bundles. The check makes the address provably the content's hash.
CREATE TABLE connectors.artifacts (
  sha256 char(64) PRIMARY KEY CHECK (sha256 = encode(sha256(bytes), 'hex')),
  bytes bytea NOT NULL,
  size integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE connectors.connector_versions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  connector_id uuid NOT NULL REFERENCES connectors.marketplace (id) ON DELETE CASCADE,
  tenant_id uuid REFERENCES connectors.tenants (id) ON DELETE CASCADE, -- the listing's, repeated for RLS
  version varchar(64) NOT NULL,
  manifest jsonb NOT NULL,
  artifact_sha256 char(64) REFERENCES connectors.artifacts (sha256),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published', 'rejected', 'yanked')),
  deprecation_message text,
  replacement text,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  UNIQUE (connector_id, version)
);

-- A published version is immutable: only its status (yank) and deprecation may change.
CREATE FUNCTION connectors.protect_published_version() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status IN ('published', 'yanked') AND (
       NEW.manifest IS DISTINCT FROM OLD.manifest OR NEW.artifact_sha256 IS DISTINCT FROM OLD.artifact_sha256
    OR NEW.version IS DISTINCT FROM OLD.version OR NEW.connector_id IS DISTINCT FROM OLD.connector_id
    OR NEW.status NOT IN ('published', 'yanked')) THEN
    RAISE EXCEPTION 'connector version % is published and immutable; publish a higher version instead', OLD.version
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER connector_versions_immutable BEFORE UPDATE ON connectors.connector_versions
  FOR EACH ROW EXECUTE FUNCTION connectors.protect_published_version();

-- Publishing pipeline -----------------------------------------------------------------------------------------

CREATE TABLE connectors.submissions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  connector_id uuid NOT NULL REFERENCES connectors.marketplace (id) ON DELETE CASCADE,
  version_id uuid NOT NULL REFERENCES connectors.connector_versions (id) ON DELETE CASCADE,
  submitted_by uuid,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  checks jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz
);
CREATE INDEX submissions_status ON connectors.submissions (status, created_at);

CREATE TABLE connectors.reviews (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  submission_id uuid NOT NULL REFERENCES connectors.submissions (id) ON DELETE CASCADE,
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE, -- the submitter's tenant
  reviewer text NOT NULL,
  decision text NOT NULL CHECK (decision IN ('approved', 'rejected')),
  notes text,
  decided_at timestamptz NOT NULL DEFAULT now()
);

-- Tenant data --------------------------------------------------------------------------------------------------

CREATE TABLE connectors.installations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  connector_id uuid NOT NULL REFERENCES connectors.marketplace (id) ON DELETE CASCADE,
  version varchar(64) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, connector_id)
);

CREATE TABLE connectors.connections (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  installation_id uuid NOT NULL REFERENCES connectors.installations (id) ON DELETE CASCADE,
  name varchar(200) NOT NULL,
  -- The vault's sealed envelope; never plaintext.
  credentials jsonb,
  -- Non-secret connection fields (e.g. a shop domain), handed to connector code.
  fields jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'needs_reauth', 'error')),
  status_detail text,
  last_tested_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_tenant ON connectors.connections (tenant_id);

CREATE TABLE connectors.ratings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  connector_id uuid NOT NULL REFERENCES connectors.marketplace (id) ON DELETE CASCADE,
  stars smallint NOT NULL CHECK (stars BETWEEN 1 AND 5),
  title varchar(200),
  body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, connector_id)
);

CREATE TABLE connectors.trigger_subscriptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  connection_id uuid NOT NULL REFERENCES connectors.connections (id) ON DELETE CASCADE,
  trigger_name varchar(200) NOT NULL,
  external_id text,
  secret jsonb, -- sealed by the vault
  webhook_token char(43) NOT NULL UNIQUE,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failed', 'stopped')),
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE connectors.usage_records (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES connectors.tenants (id) ON DELETE CASCADE,
  connector_name varchar(255) NOT NULL,
  connector_version varchar(64),
  action varchar(200) NOT NULL,
  connection_id uuid,
  status text NOT NULL CHECK (status IN ('ok', 'error')),
  error_code text,
  duration_ms integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_records_tenant_time ON connectors.usage_records (tenant_id, created_at);

-- Append-only: no UPDATE, DELETE or TRUNCATE, whoever asks.
CREATE TABLE connectors.audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid, -- NULL for platform-wide actions
  actor text NOT NULL,
  action text NOT NULL,
  target_type text,
  target_id text,
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_time ON connectors.audit_log (tenant_id, created_at);

CREATE FUNCTION connectors.refuse_audit_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'connectors.audit_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON connectors.audit_log
  FOR EACH ROW EXECUTE FUNCTION connectors.refuse_audit_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON connectors.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION connectors.refuse_audit_change();

-- Counters on global listings, kept by the schema owner so tenants never need write access to them.
CREATE FUNCTION connectors.count_installs() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, connectors AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE connectors.marketplace SET installs = installs + 1 WHERE id = NEW.connector_id;
  ELSE
    UPDATE connectors.marketplace SET installs = greatest(installs - 1, 0) WHERE id = OLD.connector_id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER installations_count AFTER INSERT OR DELETE ON connectors.installations
  FOR EACH ROW EXECUTE FUNCTION connectors.count_installs();

CREATE FUNCTION connectors.count_ratings() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, connectors AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE connectors.marketplace SET rating_sum = rating_sum - OLD.stars, rating_count = rating_count - 1 WHERE id = OLD.connector_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE connectors.marketplace SET rating_sum = rating_sum + NEW.stars, rating_count = rating_count + 1 WHERE id = NEW.connector_id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER ratings_count AFTER INSERT OR UPDATE OR DELETE ON connectors.ratings
  FOR EACH ROW EXECUTE FUNCTION connectors.count_ratings();

-- Row-level security ---------------------------------------------------------------------------------------------
-- Global rows (tenant_id IS NULL) are readable by everyone; everything else only by its tenant.

ALTER TABLE connectors.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE connectors.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_self ON connectors.tenants FOR SELECT USING (id = connectors.current_tenant());

ALTER TABLE connectors.marketplace ENABLE ROW LEVEL SECURITY;
ALTER TABLE connectors.marketplace FORCE ROW LEVEL SECURITY;
CREATE POLICY read_global_or_own ON connectors.marketplace FOR SELECT
  USING (tenant_id IS NULL OR tenant_id = connectors.current_tenant());
CREATE POLICY write_own ON connectors.marketplace FOR ALL
  USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant());

ALTER TABLE connectors.connector_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE connectors.connector_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY read_global_or_own ON connectors.connector_versions FOR SELECT
  USING (tenant_id IS NULL OR tenant_id = connectors.current_tenant());
CREATE POLICY write_own ON connectors.connector_versions FOR ALL
  USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant());

-- Reviews are public for every listing the reader can see; only the author tenant may write its rating.
ALTER TABLE connectors.ratings ENABLE ROW LEVEL SECURITY;
ALTER TABLE connectors.ratings FORCE ROW LEVEL SECURITY;
CREATE POLICY read_visible_listing ON connectors.ratings FOR SELECT
  USING (tenant_id = connectors.current_tenant() OR EXISTS (SELECT 1 FROM connectors.marketplace m WHERE m.id = connector_id));
CREATE POLICY write_own ON connectors.ratings FOR ALL
  USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant());

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['api_keys', 'submissions', 'reviews', 'installations', 'connections',
                           'trigger_subscriptions', 'usage_records', 'audit_log'] LOOP
    EXECUTE format('ALTER TABLE connectors.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE connectors.%I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY own_tenant ON connectors.%I FOR ALL USING (tenant_id = connectors.current_tenant()) WITH CHECK (tenant_id = connectors.current_tenant())', t);
  END LOOP;
END
$$;

-- What bos_app may do at all (RLS then narrows it to rows).
GRANT SELECT ON connectors.tenants TO bos_app;
GRANT SELECT, INSERT, UPDATE ON connectors.api_keys TO bos_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON connectors.marketplace, connectors.connector_versions TO bos_app;
GRANT SELECT, INSERT ON connectors.artifacts TO bos_app;
GRANT SELECT, INSERT, UPDATE ON connectors.submissions, connectors.reviews TO bos_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON connectors.installations, connectors.connections, connectors.ratings,
  connectors.trigger_subscriptions TO bos_app;
GRANT SELECT, INSERT ON connectors.usage_records, connectors.audit_log TO bos_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA connectors TO bos_app;
