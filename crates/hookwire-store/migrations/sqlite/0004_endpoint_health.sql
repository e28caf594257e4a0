-- Endpoint health for auto-disable: since when it has failed without a success.
ALTER TABLE endpoint_counters ADD COLUMN failing_since INTEGER;
ALTER TABLE endpoint_counters ADD COLUMN last_success_at INTEGER;
