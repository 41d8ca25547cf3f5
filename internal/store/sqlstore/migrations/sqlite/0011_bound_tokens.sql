-- Sender-constrained tokens (RFC 9449 DPoP, RFC 8705 §3 certificate-bound).

-- RFC 9449 §5.2 and RFC 8705 §3.4 client metadata: the client's tokens must
-- be bound (DPoP proofs required at the token endpoint; a certificate-bound
-- token for a client that authenticated with mutual TLS).
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN tls_client_certificate_bound_access_tokens INTEGER NOT NULL DEFAULT 0;

-- The key a refresh-token family is bound to: its access tokens carry it in
-- cnf, and a refresh must prove possession of it (the DPoP key's RFC 7638
-- thumbprint, or the client certificate's x5t#S256).
ALTER TABLE refresh_tokens ADD COLUMN cnf_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN cnf_x5t TEXT NOT NULL DEFAULT '';

-- RFC 9449 §10: the DPoP key an authorization code is bound to (dpop_jkt).
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
