-- The secret a client's webhook deliveries are signed with (HMAC-SHA256).
-- Permiso must sign with it, so it cannot be a hash: it is sealed with
-- AES-256-GCM under a key derived from the master key, with the client's
-- id as additional data (a sealed value is useless on another row).
CREATE TABLE webhook_secrets (
    client_id  TEXT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
