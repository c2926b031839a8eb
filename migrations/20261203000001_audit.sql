-- What admins did, on the page or with the CLI (actor "cli"): one line per
-- action, never changed. Names are kept as text, as they were, so that the
-- lines of a deleted user stay readable.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

-- A user an admin disabled cannot sign in, and their sessions and tokens stop.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;
