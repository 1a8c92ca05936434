-- The npm side of publishing: when the service is configured with an npm registry, an approved version of a global
-- listing is also published there as its npm package. One row per version and registry records where that stands,
-- so a failed publish is visible with its error and can be retried, and the marketplace version stays approved
-- either way. The runtime looks up the version's recorded sha256 through these rows when it installs from npm.
CREATE TABLE connectors.npm_publications (
  version_id uuid NOT NULL REFERENCES connectors.connector_versions (id) ON DELETE CASCADE,
  connector_id uuid NOT NULL REFERENCES connectors.marketplace (id) ON DELETE CASCADE,
  tenant_id uuid REFERENCES connectors.tenants (id) ON DELETE CASCADE, -- the listing's, repeated for RLS
  registry text NOT NULL,
  package varchar(214) NOT NULL,
  version varchar(64) NOT NULL,
  -- queued: recorded, no attempt running; publishing: an attempt is running (or crashed: retried when stale);
  -- published: the registry holds this bundle; failed: the last attempt failed with `error`.
  status text NOT NULL CHECK (status IN ('queued', 'publishing', 'published', 'failed')),
  integrity text,
  error text,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  PRIMARY KEY (version_id, registry)
);
CREATE INDEX npm_publications_package ON connectors.npm_publications (package, version);

ALTER TABLE connectors.npm_publications ENABLE ROW LEVEL SECURITY;
ALTER TABLE connectors.npm_publications FORCE ROW LEVEL SECURITY;
CREATE POLICY read_global_or_own ON connectors.npm_publications FOR SELECT
  USING (tenant_id IS NULL OR tenant_id = connectors.current_tenant());
GRANT SELECT ON connectors.npm_publications TO bos_app;
