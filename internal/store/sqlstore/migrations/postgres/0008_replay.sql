-- Single-use keys (SHA-256 of a namespace and a jti) shared by replicas;
-- see package replay.
CREATE TABLE replay_records (
    key        BYTEA PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX replay_records_expires ON replay_records(expires_at);
