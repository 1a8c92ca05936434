-- Catalogue search through the GIN indexes.
--
-- Under row-level security PostgreSQL evaluates a query's conditions that are not leakproof (full-text `@@`,
-- pg_trgm's `%`) only after the policy, so they can never be index conditions: every search as bos_app read and
-- matched all listings (0.3-0.6 s at 100,000 listings). This view is exactly what catalogue search may find: global
-- listings and the current tenant's private ones, approved and published. It runs with its owner's rights (the
-- schema owner, which bypasses RLS), so the search conditions become index conditions, and it applies the same
-- visibility rule as the policy read_global_or_own itself, so a query through it cannot forget the tenant filter.
-- Only the marketplace search reads it; everything else keeps going through the table and its policies.
CREATE VIEW connectors.searchable_listings AS
  SELECT m.* FROM connectors.marketplace m
  WHERE (m.tenant_id IS NULL OR m.tenant_id = connectors.current_tenant()) AND m.approved AND m.version IS NOT NULL;

GRANT SELECT ON connectors.searchable_listings TO bos_app;
