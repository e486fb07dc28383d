-- The retention job (SAGA_LOG_RETENTION_D) removes the step log of ended
-- sagas by the time of the step: by this index, not a scan of the whole log.
CREATE INDEX IF NOT EXISTS saga_step_log_at ON saga_step_log (at);
