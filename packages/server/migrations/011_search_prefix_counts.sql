-- Match counts of one-word searches, kept by statement triggers on connectors.search_entries.
--
-- A search for one plain word matches the listings having a lexeme that starts with the word's stem (its web-search
-- form `'stem'` is contained in its prefix form `'stem':*`). Counting those listings by category meant visiting
-- every match (up to the count limit of 10,000): 6,000-10,000 rows for a short type-ahead prefix or a common word,
-- the bulk of such a search's time. This table holds, for every prefix of up to 6 characters of every lexeme, how
-- many entries of each tenant (nil uuid: global listings) and category have such a lexeme, so the total and the
-- facets of such a search are one index lookup, and the page can be read in sort order (see search.ts).
--
-- Listings now reach connectors.search_entries one statement at a time (migration 009 wrote them row by row), so a
-- statement that writes many listings (a bulk import) updates the counts once.
--
-- It is written only by the triggers below (as the schema owner) and read only through the view
-- connectors.searchable_prefix_counts, with the visibility rule of connectors.searchable_listings (global entries
-- and the current tenant's own). bos_app has no privilege on the table itself.
CREATE TABLE connectors.search_prefix_counts (
  prefix text COLLATE "C" NOT NULL,
  tenant_key uuid NOT NULL,
  category text NOT NULL,
  docs integer NOT NULL,
  PRIMARY KEY (prefix, tenant_key, category)
);

-- The distinct prefixes (up to 6 characters) of a search vector's lexemes, and '' for any vector with a lexeme (so
-- the counts of '' are the number of entries that can match at all: search compares the two).
CREATE FUNCTION connectors.search_prefixes(search tsvector) RETURNS SETOF text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT DISTINCT pg_catalog.left(l, n) FROM pg_catalog.unnest(pg_catalog.tsvector_to_array(search)) AS l,
    pg_catalog.generate_series(0, least(6, pg_catalog.length(l))) AS n
$$;

-- Adds the new entries of a statement and subtracts the old ones, in one upsert in key order, so that concurrent
-- writers lock the counts they share in the same order. Entries whose words, category and owner did not change
-- (install counts, ratings) change no count.
CREATE FUNCTION connectors.count_search_prefixes() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, connectors AS $$
DECLARE
  changed constant text := 'FROM new_entries n JOIN old_entries o ON o.id = n.id
    WHERE (n.tenant_id, n.category, n.search) IS DISTINCT FROM (o.tenant_id, o.category, o.search)';
  entries text;
BEGIN
  entries := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT tenant_id, category, search, 1 AS delta FROM new_entries'
    WHEN 'DELETE' THEN 'SELECT tenant_id, category, search, -1 AS delta FROM old_entries'
    ELSE 'SELECT n.tenant_id, n.category, n.search, 1 AS delta ' || changed || ' UNION ALL SELECT o.tenant_id, o.category, o.search, -1 ' || changed
  END;
  EXECUTE format(
    $sql$INSERT INTO connectors.search_prefix_counts AS c (prefix, tenant_key, category, docs)
    SELECT p, coalesce(e.tenant_id, '00000000-0000-0000-0000-000000000000'), coalesce(e.category, 'other'), sum(e.delta)::int
    FROM (%s) e, connectors.search_prefixes(e.search) AS p
    GROUP BY 1, 2, 3 HAVING sum(e.delta) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (prefix, tenant_key, category) DO UPDATE SET docs = c.docs + EXCLUDED.docs$sql$, entries);
  RETURN NULL;
END
$$;
CREATE TRIGGER search_entries_prefixes_insert AFTER INSERT ON connectors.search_entries
  REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION connectors.count_search_prefixes();
CREATE TRIGGER search_entries_prefixes_update AFTER UPDATE ON connectors.search_entries
  REFERENCING OLD TABLE AS old_entries NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION connectors.count_search_prefixes();
CREATE TRIGGER search_entries_prefixes_delete AFTER DELETE ON connectors.search_entries
  REFERENCING OLD TABLE AS old_entries FOR EACH STATEMENT EXECUTE FUNCTION connectors.count_search_prefixes();

INSERT INTO connectors.search_prefix_counts (prefix, tenant_key, category, docs)
  SELECT p, coalesce(e.tenant_id, '00000000-0000-0000-0000-000000000000'), coalesce(e.category, 'other'), count(*)
  FROM connectors.search_entries e, connectors.search_prefixes(e.search) AS p
  GROUP BY 1, 2, 3;

CREATE VIEW connectors.searchable_prefix_counts AS
  SELECT c.prefix, c.category, c.docs FROM connectors.search_prefix_counts c
  WHERE c.tenant_key = '00000000-0000-0000-0000-000000000000' OR c.tenant_key = connectors.current_tenant();
GRANT SELECT ON connectors.searchable_prefix_counts TO bos_app;

-- 009's row trigger, as statement triggers: same rule (an approved listing with a published version has an entry
-- with its values; any other has none), applied to every listing a statement inserted or updated.
DROP TRIGGER marketplace_search_entry ON connectors.marketplace;
DROP FUNCTION connectors.sync_search_entry();
CREATE FUNCTION connectors.sync_search_entries() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, connectors AS $$
BEGIN
  INSERT INTO connectors.search_entries (id, tenant_id, name, category, installs, rating_sum, rating_count, created_at, search)
  SELECT id, tenant_id, name, category, installs, rating_sum, rating_count, created_at, search FROM new_listings
  WHERE approved AND version IS NOT NULL
  ON CONFLICT (id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, name = EXCLUDED.name, category = EXCLUDED.category,
    installs = EXCLUDED.installs, rating_sum = EXCLUDED.rating_sum, rating_count = EXCLUDED.rating_count,
    created_at = EXCLUDED.created_at, search = EXCLUDED.search;
  DELETE FROM connectors.search_entries e USING new_listings n
  WHERE e.id = n.id AND NOT (n.approved AND n.version IS NOT NULL);
  RETURN NULL;
END
$$;
CREATE TRIGGER marketplace_search_entries_insert AFTER INSERT ON connectors.marketplace
  REFERENCING NEW TABLE AS new_listings FOR EACH STATEMENT EXECUTE FUNCTION connectors.sync_search_entries();
CREATE TRIGGER marketplace_search_entries_update AFTER UPDATE ON connectors.marketplace
  REFERENCING NEW TABLE AS new_listings FOR EACH STATEMENT EXECUTE FUNCTION connectors.sync_search_entries();
