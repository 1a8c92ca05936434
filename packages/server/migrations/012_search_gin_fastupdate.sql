-- The GIN indexes of catalogue search without a pending list.
--
-- Every change of a listing's install count or rating rewrites its search entry, and such an update is never HOT
-- (installs and ratings are indexed for the sorts), so it adds all of the entry's lexemes and name trigrams to both
-- GIN indexes. With `fastupdate` they went to the pending list, which every search then reads in full until a
-- vacuum or a 4 MB list flushes it: 3,000 install updates on the search bench's 100,000 listings made searches
-- 2-4 ms slower. Without it, each update writes its entries into the index at once (about 0.25 ms more per update
-- there) and searches never read a pending list.
ALTER INDEX connectors.search_entries_search SET (fastupdate = off);
ALTER INDEX connectors.search_entries_name_trgm SET (fastupdate = off);
