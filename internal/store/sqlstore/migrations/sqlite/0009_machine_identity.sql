-- Clients that hold no shared secret: registered keys (private_key_jwt,
-- self_signed_tls_client_auth), a certificate subject (tls_client_auth),
-- and bindings to external identities (workload identity federation).

ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
-- RFC 8705 §2.1.2: exactly one of subject_dn, san_dns, san_uri, san_ip, san_email.
ALTER TABLE clients ADD COLUMN tls_client_auth_field TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN tls_client_auth_value TEXT NOT NULL DEFAULT '';

-- An external issuer whose tokens authenticate bound clients.
CREATE TABLE trusts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    description   TEXT NOT NULL DEFAULT '',
    issuer        TEXT NOT NULL DEFAULT '',
    key_source    TEXT NOT NULL,            -- oidc | jwks_uri | jwks | spiffe
    jwks_uri      TEXT NOT NULL DEFAULT '', -- jwks_uri, or the SPIFFE bundle endpoint
    jwks          TEXT NOT NULL DEFAULT '', -- a static JWKS or SPIFFE bundle
    trust_domain  TEXT NOT NULL DEFAULT '', -- spiffe only
    audience      TEXT NOT NULL DEFAULT '',
    max_token_age INTEGER NOT NULL,         -- seconds
    is_active     INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- One trust per issuer and per SPIFFE trust domain, so a token names at
-- most one trust.
CREATE UNIQUE INDEX trusts_issuer ON trusts(issuer) WHERE issuer <> '';
CREATE UNIQUE INDEX trusts_trust_domain ON trusts(trust_domain) WHERE trust_domain <> '';

-- A client bound to an external identity: a trust, a subject (exact, or a
-- SPIFFE ID path prefix ending in /*) and claim conditions. A (trust,
-- subject) pair names one client.
CREATE TABLE trust_bindings (
    id         TEXT PRIMARY KEY,
    trust_id   TEXT NOT NULL REFERENCES trusts(id) ON DELETE RESTRICT,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    conditions TEXT NOT NULL DEFAULT '{}', -- claim path -> accepted values
    created_at INTEGER NOT NULL,
    UNIQUE (trust_id, subject)
);
CREATE INDEX trust_bindings_client ON trust_bindings(client_id);
