-- Webhook deliveries are acknowledged once stored and turned into events afterwards by the delivery processor
-- (packages/server/src/triggers/delivery-processor.ts); event positions no longer need a lock held until commit.

-- Processing state of a stored delivery ----------------------------------------------------------------------------
-- pending: processed_at and failed_at NULL (claimable once next_attempt_at has come); processed: processed_at set in
-- the transaction that appended its events; failed: the transform kept failing, last_error says why (the tenant sees
-- it); a failed delivery is never retried by itself.
ALTER TABLE connectors.trigger_deliveries
  ADD COLUMN attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN last_error text,
  ADD COLUMN failed_at timestamptz;
CREATE INDEX trigger_deliveries_pending ON connectors.trigger_deliveries (next_attempt_at)
  WHERE processed_at IS NULL AND failed_at IS NULL;

-- Event positions ---------------------------------------------------------------------------------------------------
-- From now on a position is (id of the inserting transaction) × 2^20 + its index within that transaction, taken
-- without any lock; readers only return positions below (oldest running transaction) × 2^20, so an event can never
-- appear below a position a reader has already seen (see pg-outbox.ts). The old sequence values are far below.
COMMENT ON COLUMN connectors.trigger_events.position IS
  'pg_current_xact_id() * 2^20 + index in the transaction; readable once below pg_snapshot_xmin(pg_current_snapshot()) * 2^20';
