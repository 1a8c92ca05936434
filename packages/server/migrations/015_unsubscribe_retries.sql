-- A disabled webhook subscription whose hook the provider did not confirm removing keeps trying: the background sweep
-- runs the connector's unsubscribe step again at unsubscribe_at, backing off, until the provider confirms or the
-- service gives up (the subscription's status_detail then says to remove the hook by hand). The row, its connection
-- and the connection's credentials stay until then; deleting the connection asks for ?force=true meanwhile.
ALTER TABLE connectors.trigger_subscriptions
  ADD COLUMN unsubscribe_at timestamptz,
  ADD COLUMN unsubscribe_attempts integer NOT NULL DEFAULT 0;
CREATE INDEX trigger_subscriptions_unsubscribe_due ON connectors.trigger_subscriptions (unsubscribe_at) WHERE unsubscribe_at IS NOT NULL;
