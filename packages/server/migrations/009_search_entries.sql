-- A narrow table for catalogue search, kept by a trigger on connectors.marketplace.
--
-- Search visits one row per match: to count matches by category and, with few matches, to sort them. A listing row
-- is ~580 bytes (description, keywords, npm package, ...), so a common word's matches touched nearly every page of
-- the table. This table holds only what search matches, counts and orders by (~60 % of the pages), and only the
-- rows search may ever find: approved listings with a published version.
--
-- It is written only by the trigger below (as the schema owner) and read only through the view
-- connectors.searchable_listings, which now selects from it with the same visibility rule as before (global
-- listings and the current tenant's own, the rule of the policy read_global_or_own on connectors.marketplace).
-- bos_app has no privilege on the table itself.
CREATE TABLE connectors.search_entries (
  id uuid PRIMARY KEY REFERENCES connectors.marketplace (id) ON DELETE CASCADE,
  tenant_id uuid,
  name varchar(255) NOT NULL,
  category varchar(100),
  installs integer NOT NULL,
  rating_sum integer NOT NULL,
  rating_count integer NOT NULL,
  created_at timestamptz NOT NULL,
  search tsvector NOT NULL
);
ALTER TABLE connectors.search_entries ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_global_or_own ON connectors.search_entries FOR SELECT
  USING (tenant_id IS NULL OR tenant_id = connectors.current_tenant());

INSERT INTO connectors.search_entries (id, tenant_id, name, category, installs, rating_sum, rating_count, created_at, search)
  SELECT id, tenant_id, name, category, installs, rating_sum, rating_count, created_at, search
  FROM connectors.marketplace WHERE approved AND version IS NOT NULL;

CREATE INDEX search_entries_search ON connectors.search_entries USING gin (search);
CREATE INDEX search_entries_name_trgm ON connectors.search_entries USING gin (name gin_trgm_ops);
-- The orders of the sorts, so that the first pages of a word with very many matches are read in order, not sorted.
CREATE INDEX search_entries_installs ON connectors.search_entries (installs DESC, name, id);
CREATE INDEX search_entries_newest ON connectors.search_entries (created_at DESC, name, id);
CREATE INDEX search_entries_rating ON connectors.search_entries
  ((rating_sum::float8 / nullif(rating_count, 0)) DESC NULLS LAST, rating_count DESC, name, id);

-- Every insert or update of a listing (publish, approve, yank, install counts, ratings, edits) rewrites its entry;
-- a listing that is not approved or has no published version has none. Deleting a listing cascades.
CREATE FUNCTION connectors.sync_search_entry() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, connectors AS $$
BEGIN
  IF NEW.approved AND NEW.version IS NOT NULL THEN
    INSERT INTO connectors.search_entries (id, tenant_id, name, category, installs, rating_sum, rating_count, created_at, search)
    VALUES (NEW.id, NEW.tenant_id, NEW.name, NEW.category, NEW.installs, NEW.rating_sum, NEW.rating_count, NEW.created_at, NEW.search)
    ON CONFLICT (id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, name = EXCLUDED.name, category = EXCLUDED.category,
      installs = EXCLUDED.installs, rating_sum = EXCLUDED.rating_sum, rating_count = EXCLUDED.rating_count,
      created_at = EXCLUDED.created_at, search = EXCLUDED.search;
  ELSE
    DELETE FROM connectors.search_entries WHERE id = NEW.id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER marketplace_search_entry AFTER INSERT OR UPDATE ON connectors.marketplace
  FOR EACH ROW EXECUTE FUNCTION connectors.sync_search_entry();

-- Same name and rule as migration 007's view; now over the narrow table.
DROP VIEW connectors.searchable_listings;
CREATE VIEW connectors.searchable_listings AS
  SELECT e.* FROM connectors.search_entries e
  WHERE e.tenant_id IS NULL OR e.tenant_id = connectors.current_tenant();
GRANT SELECT ON connectors.searchable_listings TO bos_app;
