-- The login-session table of the session store (tower-sessions-sqlx-store's
-- PostgresStore: schema tower_sessions, table session), created here so that
-- start-up never needs the database. IF NOT EXISTS: databases where the store
-- created it already keep theirs.
CREATE SCHEMA IF NOT EXISTS tower_sessions;
CREATE TABLE IF NOT EXISTS tower_sessions.session (
    id TEXT PRIMARY KEY NOT NULL,
    data BYTEA NOT NULL,
    expiry_date TIMESTAMPTZ NOT NULL
);
