-- Times are TIMESTAMPTZ (microsecond precision); lists are JSON text.

CREATE TABLE scopes (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    resource    TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Deleting a role drops its grants; deleting a scope a role holds is refused.
CREATE TABLE role_scopes (
    role_id  TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    scope_id TEXT NOT NULL REFERENCES scopes(id) ON DELETE RESTRICT,
    PRIMARY KEY (role_id, scope_id)
);
CREATE INDEX role_scopes_scope ON role_scopes(scope_id);

CREATE TABLE users (
    id                    TEXT PRIMARY KEY,
    username              TEXT NOT NULL,
    username_key          TEXT NOT NULL UNIQUE, -- lower(username): case-insensitive uniqueness
    email                 TEXT NOT NULL DEFAULT '',
    email_key             TEXT UNIQUE,          -- lower(email), NULL when empty
    password_hash         TEXT NOT NULL DEFAULT '',
    first_name            TEXT NOT NULL DEFAULT '',
    last_name             TEXT NOT NULL DEFAULT '',
    display_name          TEXT NOT NULL DEFAULT '',
    bio                   TEXT NOT NULL DEFAULT '',
    is_active             BOOLEAN NOT NULL DEFAULT TRUE,
    is_verified           BOOLEAN NOT NULL DEFAULT FALSE,
    is_superuser          BOOLEAN NOT NULL DEFAULT FALSE,
    failed_login_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until          TIMESTAMPTZ,
    last_login            TIMESTAMPTZ,
    password_changed_at   TIMESTAMPTZ NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE RESTRICT,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role ON user_roles(role_id);

CREATE TABLE clients (
    id                         TEXT PRIMARY KEY,
    client_id                  TEXT NOT NULL UNIQUE,
    name                       TEXT NOT NULL DEFAULT '',
    description                TEXT NOT NULL DEFAULT '',
    client_type                TEXT NOT NULL DEFAULT 'confidential',
    is_active                  BOOLEAN NOT NULL DEFAULT TRUE,
    is_trusted                 BOOLEAN NOT NULL DEFAULT FALSE,
    grant_types                TEXT NOT NULL DEFAULT '[]',
    token_endpoint_auth_method TEXT NOT NULL DEFAULT '',
    audiences                  TEXT NOT NULL DEFAULT '[]',
    redirect_uris              TEXT NOT NULL DEFAULT '[]',
    access_token_lifetime      INTEGER NOT NULL DEFAULT 0,
    refresh_token_lifetime     INTEGER,
    rate_limit_per_minute      INTEGER NOT NULL DEFAULT 0,
    rate_limit_per_hour        INTEGER NOT NULL DEFAULT 0,
    allowed_ips                TEXT NOT NULL DEFAULT '[]',
    webhook_url                TEXT NOT NULL DEFAULT '',
    contact_email              TEXT NOT NULL DEFAULT '',
    website_url                TEXT NOT NULL DEFAULT '',
    last_used                  TIMESTAMPTZ,
    total_requests             BIGINT NOT NULL DEFAULT 0,
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);

CREATE TABLE client_scopes (
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope_id  TEXT NOT NULL REFERENCES scopes(id) ON DELETE RESTRICT,
    PRIMARY KEY (client_id, scope_id)
);
CREATE INDEX client_scopes_scope ON client_scopes(scope_id);

CREATE TABLE client_secrets (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    last_used  TIMESTAMPTZ
);
CREATE INDEX client_secrets_client ON client_secrets(client_id);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id     TEXT NOT NULL DEFAULT '',
    ip            TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    last_activity TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    hash       BYTEA NOT NULL UNIQUE,
    family_id  TEXT NOT NULL,
    parent_id  TEXT NOT NULL DEFAULT '',
    session_id TEXT REFERENCES sessions(id) ON DELETE CASCADE,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL DEFAULT '',
    scope      TEXT NOT NULL DEFAULT '',
    audience   TEXT NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);

CREATE TABLE revocations (
    seq        BIGSERIAL PRIMARY KEY,
    jti        TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revocations_expires ON revocations(expires_at);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    public_jwk   TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    activates_at TIMESTAMPTZ NOT NULL,
    retires_at   TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ
);

CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    time       TIMESTAMPTZ NOT NULL,
    type       TEXT NOT NULL,
    outcome    TEXT NOT NULL DEFAULT '',
    actor_type TEXT NOT NULL DEFAULT '',
    actor_id   TEXT NOT NULL DEFAULT '',
    target     TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_time ON audit_events(time);
CREATE INDEX audit_events_type ON audit_events(type);

CREATE TABLE authorization_codes (
    hash                  BYTEA PRIMARY KEY,
    client_id             TEXT NOT NULL,
    user_id               TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_id            TEXT NOT NULL DEFAULT '',
    redirect_uri          TEXT NOT NULL DEFAULT '',
    code_challenge        TEXT NOT NULL DEFAULT '',
    code_challenge_method TEXT NOT NULL DEFAULT '',
    scope                 TEXT NOT NULL DEFAULT '',
    audience              TEXT NOT NULL DEFAULT '[]',
    nonce                 TEXT NOT NULL DEFAULT '',
    created_at            TIMESTAMPTZ NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL,
    used_at               TIMESTAMPTZ
);

CREATE TABLE user_tokens (
    hash       BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX user_tokens_user ON user_tokens(user_id);
