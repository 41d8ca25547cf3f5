-- Single-use keys (SHA-256 of a namespace and a jti) shared by replicas;
-- see package replay. Times are INTEGER Unix microseconds (UTC).
CREATE TABLE replay_records (
    key        BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX replay_records_expires ON replay_records(expires_at);
