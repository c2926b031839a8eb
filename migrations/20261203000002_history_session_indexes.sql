-- Retention deletes a session only once no row refers to it, and the
-- foreign keys check the same on every delete: these let both look the
-- session up instead of scanning each table.
CREATE INDEX idx_intraday_patterns_session_id ON intraday_patterns (session_id);
CREATE INDEX idx_intraday_indicators_session_id ON intraday_indicators (session_id);
CREATE INDEX idx_streaming_health_metrics_session_id ON streaming_health_metrics (session_id);
CREATE INDEX idx_streaming_alerts_session_id ON streaming_alerts (session_id);
