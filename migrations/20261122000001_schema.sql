-- TickStock's schema: accounts, API tokens, and the streaming history tables
-- of seed 004 (columns and indexes as given there), plus streaming_alerts.
-- Natural-key unique indexes make recording idempotent: TickStock inserts with
-- ON CONFLICT DO NOTHING, so a TickStockPL that writes the same rows does not
-- duplicate them. (Login sessions live in the tower_sessions schema, created
-- by the session store.)

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT,
    -- argon2id PHC string; werkzeug pbkdf2/scrypt hashes are accepted once and upgraded.
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin', 'super')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    -- SHA-256 of the token, hex; the token itself is shown once and never stored.
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE streaming_sessions (
    session_id UUID PRIMARY KEY,
    universe VARCHAR(100) NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL,
    stopped_at TIMESTAMP WITH TIME ZONE,
    symbol_count INTEGER NOT NULL,
    total_patterns INTEGER DEFAULT 0,
    total_indicators INTEGER DEFAULT 0,
    final_status VARCHAR(20),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE INDEX idx_streaming_sessions_started_at ON streaming_sessions (started_at DESC);

CREATE TABLE intraday_patterns (
    id SERIAL PRIMARY KEY,
    session_id UUID REFERENCES streaming_sessions (session_id),
    symbol VARCHAR(10) NOT NULL,
    pattern_type VARCHAR(50) NOT NULL,
    confidence DECIMAL(5,2) NOT NULL,
    detected_at TIMESTAMP WITH TIME ZONE NOT NULL,
    timeframe VARCHAR(10) DEFAULT '1min',
    bar_open DECIMAL(12,2),
    bar_high DECIMAL(12,2),
    bar_low DECIMAL(12,2),
    bar_close DECIMAL(12,2),
    bar_volume BIGINT,
    metadata JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE INDEX idx_intraday_patterns_symbol ON intraday_patterns (symbol);
CREATE INDEX idx_intraday_patterns_detected_at ON intraday_patterns (detected_at DESC);
CREATE UNIQUE INDEX intraday_patterns_natural_key
    ON intraday_patterns (symbol, pattern_type, detected_at, (COALESCE(timeframe, '')));

CREATE TABLE intraday_indicators (
    id SERIAL PRIMARY KEY,
    session_id UUID REFERENCES streaming_sessions (session_id),
    symbol VARCHAR(10) NOT NULL,
    indicator VARCHAR(50) NOT NULL,
    value DECIMAL(12,4) NOT NULL,
    calculated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    timeframe VARCHAR(10) DEFAULT '1min',
    metadata JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE INDEX idx_intraday_indicators_symbol ON intraday_indicators (symbol);
CREATE INDEX idx_intraday_indicators_calculated_at ON intraday_indicators (calculated_at DESC);
CREATE UNIQUE INDEX intraday_indicators_natural_key
    ON intraday_indicators (symbol, indicator, calculated_at, (COALESCE(timeframe, '')));

CREATE TABLE streaming_health_metrics (
    id SERIAL PRIMARY KEY,
    session_id UUID REFERENCES streaming_sessions (session_id),
    status VARCHAR(20) NOT NULL,
    active_symbols INTEGER,
    ticks_per_second DECIMAL(10,2),
    bars_per_minute INTEGER,
    processing_lag_ms INTEGER,
    cpu_percent DECIMAL(5,2),
    memory_mb INTEGER,
    issues JSONB,
    measured_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE INDEX idx_streaming_health_measured_at ON streaming_health_metrics (measured_at DESC);
CREATE UNIQUE INDEX streaming_health_metrics_natural_key
    ON streaming_health_metrics (measured_at, (COALESCE(session_id, '00000000-0000-0000-0000-000000000000'::uuid)));

-- Both alert kinds: indicator alerts (symbol, alert_type, data) and critical
-- alerts (component, message, action_required, recovery).
CREATE TABLE streaming_alerts (
    id BIGSERIAL PRIMARY KEY,
    kind VARCHAR(20) NOT NULL CHECK (kind IN ('indicator_alert', 'critical_alert')),
    session_id UUID REFERENCES streaming_sessions (session_id),
    symbol VARCHAR(10),
    alert_type VARCHAR(50),
    severity VARCHAR(20),
    message TEXT,
    component VARCHAR(100),
    action_required TEXT,
    recovery TEXT,
    data JSONB,
    triggered_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE INDEX idx_streaming_alerts_triggered_at ON streaming_alerts (triggered_at DESC);
CREATE UNIQUE INDEX streaming_alerts_natural_key
    ON streaming_alerts (kind, triggered_at, (COALESCE(symbol, '')), (COALESCE(alert_type, '')),
                         (COALESCE(component, '')), (COALESCE(message, '')));
