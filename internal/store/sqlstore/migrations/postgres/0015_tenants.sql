-- Tenants (issue 18): isolated organisations, each an issuer of its own.
-- Every row that existed belongs to the default tenant. Every table gains
-- tenant_id; uniqueness becomes per tenant; and every reference between
-- rows becomes a composite foreign key (tenant_id, id), so a row of one
-- tenant can never point at a row of another. Columns other migrations
-- added to these tables are kept as they are (nothing is rebuilt here).

CREATE TABLE tenants (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    display_name       TEXT NOT NULL DEFAULT '',
    is_active          BOOLEAN NOT NULL DEFAULT TRUE,
    tokens_valid_after TIMESTAMPTZ,
    deleted_at         TIMESTAMPTZ,
    purge_after        TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
INSERT INTO tenants (id, name, display_name, created_at, updated_at)
VALUES ('default', 'default', 'Default tenant', now(), now());

-- tenant_id on every table. The default fills existing rows and is dropped
-- at the end: a row written without its tenant is an error, never a row
-- of the default tenant.
ALTER TABLE scopes              ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE roles               ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE role_scopes         ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE users               ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE user_roles          ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE clients             ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE client_scopes       ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE client_secrets      ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE sessions            ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE refresh_tokens      ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE revocations         ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE signing_keys        ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE audit_events        ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE authorization_codes ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE user_tokens         ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE replay_records      ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE trusts              ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default' REFERENCES tenants(id);
ALTER TABLE trust_bindings      ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE webhook_secrets     ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';

-- Parents: (tenant_id, id) is what children reference.
ALTER TABLE scopes   ADD CONSTRAINT scopes_tenant_id_id_key   UNIQUE (tenant_id, id);
ALTER TABLE roles    ADD CONSTRAINT roles_tenant_id_id_key    UNIQUE (tenant_id, id);
ALTER TABLE users    ADD CONSTRAINT users_tenant_id_id_key    UNIQUE (tenant_id, id);
ALTER TABLE clients  ADD CONSTRAINT clients_tenant_id_id_key  UNIQUE (tenant_id, id);
ALTER TABLE sessions ADD CONSTRAINT sessions_tenant_id_id_key UNIQUE (tenant_id, id);
ALTER TABLE trusts   ADD CONSTRAINT trusts_tenant_id_id_key   UNIQUE (tenant_id, id);

-- Uniqueness per tenant.
ALTER TABLE scopes DROP CONSTRAINT scopes_name_key;
ALTER TABLE scopes ADD CONSTRAINT scopes_tenant_id_name_key UNIQUE (tenant_id, name);
ALTER TABLE roles DROP CONSTRAINT roles_name_key;
ALTER TABLE roles ADD CONSTRAINT roles_tenant_id_name_key UNIQUE (tenant_id, name);
ALTER TABLE users DROP CONSTRAINT users_username_key_key;
ALTER TABLE users DROP CONSTRAINT users_email_key_key;
ALTER TABLE users ADD CONSTRAINT users_tenant_id_username_key_key UNIQUE (tenant_id, username_key);
ALTER TABLE users ADD CONSTRAINT users_tenant_id_email_key_key UNIQUE (tenant_id, email_key);
ALTER TABLE clients DROP CONSTRAINT clients_client_id_key;
ALTER TABLE clients ADD CONSTRAINT clients_tenant_id_client_id_key UNIQUE (tenant_id, client_id);
ALTER TABLE revocations DROP CONSTRAINT revocations_jti_key;
ALTER TABLE revocations ADD CONSTRAINT revocations_tenant_id_jti_key UNIQUE (tenant_id, jti);
CREATE INDEX revocations_tenant_seq ON revocations(tenant_id, seq);
ALTER TABLE replay_records DROP CONSTRAINT replay_records_pkey;
ALTER TABLE replay_records ADD PRIMARY KEY (tenant_id, key);
ALTER TABLE trusts DROP CONSTRAINT trusts_name_key;
ALTER TABLE trusts ADD CONSTRAINT trusts_tenant_id_name_key UNIQUE (tenant_id, name);
DROP INDEX trusts_issuer;
DROP INDEX trusts_trust_domain;
CREATE UNIQUE INDEX trusts_issuer ON trusts(tenant_id, issuer) WHERE issuer <> '';
CREATE UNIQUE INDEX trusts_trust_domain ON trusts(tenant_id, trust_domain) WHERE trust_domain <> '';
ALTER TABLE trust_bindings DROP CONSTRAINT trust_bindings_trust_id_subject_key;
ALTER TABLE trust_bindings ADD CONSTRAINT trust_bindings_tenant_id_trust_id_subject_key UNIQUE (tenant_id, trust_id, subject);
-- Opaque tokens are looked up by hash within their tenant.
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_hash_key;
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_tenant_id_hash_key UNIQUE (tenant_id, hash);
ALTER TABLE authorization_codes DROP CONSTRAINT authorization_codes_pkey;
ALTER TABLE authorization_codes ADD PRIMARY KEY (tenant_id, hash);
ALTER TABLE user_tokens DROP CONSTRAINT user_tokens_pkey;
ALTER TABLE user_tokens ADD PRIMARY KEY (tenant_id, hash);
CREATE INDEX signing_keys_tenant ON signing_keys(tenant_id);
CREATE INDEX audit_events_tenant_time ON audit_events(tenant_id, time);
CREATE INDEX audit_events_tenant_type ON audit_events(tenant_id, type);
DROP INDEX audit_events_type;

-- References within a tenant only.
ALTER TABLE role_scopes DROP CONSTRAINT role_scopes_pkey;
ALTER TABLE role_scopes DROP CONSTRAINT role_scopes_role_id_fkey;
ALTER TABLE role_scopes DROP CONSTRAINT role_scopes_scope_id_fkey;
ALTER TABLE role_scopes ADD PRIMARY KEY (tenant_id, role_id, scope_id);
ALTER TABLE role_scopes ADD CONSTRAINT role_scopes_role_fkey
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, id) ON DELETE CASCADE;
ALTER TABLE role_scopes ADD CONSTRAINT role_scopes_scope_fkey
    FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes(tenant_id, id) ON DELETE RESTRICT;
DROP INDEX role_scopes_scope;
CREATE INDEX role_scopes_scope ON role_scopes(tenant_id, scope_id);

ALTER TABLE user_roles DROP CONSTRAINT user_roles_pkey;
ALTER TABLE user_roles DROP CONSTRAINT user_roles_user_id_fkey;
ALTER TABLE user_roles DROP CONSTRAINT user_roles_role_id_fkey;
ALTER TABLE user_roles ADD PRIMARY KEY (tenant_id, user_id, role_id);
ALTER TABLE user_roles ADD CONSTRAINT user_roles_user_fkey
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE;
ALTER TABLE user_roles ADD CONSTRAINT user_roles_role_fkey
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, id) ON DELETE RESTRICT;
DROP INDEX user_roles_role;
CREATE INDEX user_roles_role ON user_roles(tenant_id, role_id);

ALTER TABLE client_scopes DROP CONSTRAINT client_scopes_pkey;
ALTER TABLE client_scopes DROP CONSTRAINT client_scopes_client_id_fkey;
ALTER TABLE client_scopes DROP CONSTRAINT client_scopes_scope_id_fkey;
ALTER TABLE client_scopes ADD PRIMARY KEY (tenant_id, client_id, scope_id);
ALTER TABLE client_scopes ADD CONSTRAINT client_scopes_client_fkey
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients(tenant_id, id) ON DELETE CASCADE;
ALTER TABLE client_scopes ADD CONSTRAINT client_scopes_scope_fkey
    FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes(tenant_id, id) ON DELETE RESTRICT;
DROP INDEX client_scopes_scope;
CREATE INDEX client_scopes_scope ON client_scopes(tenant_id, scope_id);

ALTER TABLE client_secrets DROP CONSTRAINT client_secrets_client_id_fkey;
ALTER TABLE client_secrets ADD CONSTRAINT client_secrets_client_fkey
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients(tenant_id, id) ON DELETE CASCADE;
DROP INDEX client_secrets_client;
CREATE INDEX client_secrets_client ON client_secrets(tenant_id, client_id);

ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_fkey
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE;
DROP INDEX sessions_user;
CREATE INDEX sessions_user ON sessions(tenant_id, user_id);

ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_session_id_fkey;
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_user_id_fkey;
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_session_fkey
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE;
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_user_fkey
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE;
DROP INDEX refresh_tokens_session;
DROP INDEX refresh_tokens_user;
CREATE INDEX refresh_tokens_session ON refresh_tokens(tenant_id, session_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(tenant_id, user_id);

ALTER TABLE authorization_codes DROP CONSTRAINT authorization_codes_user_id_fkey;
ALTER TABLE authorization_codes ADD CONSTRAINT authorization_codes_user_fkey
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE user_tokens DROP CONSTRAINT user_tokens_user_id_fkey;
ALTER TABLE user_tokens ADD CONSTRAINT user_tokens_user_fkey
    FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE;
DROP INDEX user_tokens_user;
CREATE INDEX user_tokens_user ON user_tokens(tenant_id, user_id);

ALTER TABLE trust_bindings DROP CONSTRAINT trust_bindings_trust_id_fkey;
ALTER TABLE trust_bindings DROP CONSTRAINT trust_bindings_client_id_fkey;
ALTER TABLE trust_bindings ADD CONSTRAINT trust_bindings_trust_fkey
    FOREIGN KEY (tenant_id, trust_id) REFERENCES trusts(tenant_id, id) ON DELETE RESTRICT;
ALTER TABLE trust_bindings ADD CONSTRAINT trust_bindings_client_fkey
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients(tenant_id, id) ON DELETE CASCADE;
DROP INDEX trust_bindings_client;
CREATE INDEX trust_bindings_client ON trust_bindings(tenant_id, client_id);

ALTER TABLE webhook_secrets DROP CONSTRAINT webhook_secrets_pkey;
ALTER TABLE webhook_secrets DROP CONSTRAINT webhook_secrets_client_id_fkey;
ALTER TABLE webhook_secrets ADD PRIMARY KEY (tenant_id, client_id);
ALTER TABLE webhook_secrets ADD CONSTRAINT webhook_secrets_client_fkey
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients(tenant_id, id) ON DELETE CASCADE;

ALTER TABLE scopes              ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE roles               ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE role_scopes         ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE users               ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE user_roles          ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE clients             ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE client_scopes       ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE client_secrets      ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE sessions            ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE refresh_tokens      ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE revocations         ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE signing_keys        ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE audit_events        ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE authorization_codes ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE user_tokens         ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE replay_records      ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE trusts              ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE trust_bindings      ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE webhook_secrets     ALTER COLUMN tenant_id DROP DEFAULT;
