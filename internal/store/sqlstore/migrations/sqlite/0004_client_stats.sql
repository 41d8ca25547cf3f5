-- Client statistics that cost the same at any number of clients: one row
-- per tenant, kept by Permiso's client writes in the same transaction (a
-- tenant's row is counted from its clients the first time it is read), and
-- an index for the busiest clients.
CREATE TABLE client_stats (
    tenant_id TEXT PRIMARY KEY,
    total     BIGINT NOT NULL DEFAULT 0,
    active    BIGINT NOT NULL DEFAULT 0,
    trusted   BIGINT NOT NULL DEFAULT 0,
    requests  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX clients_busiest ON clients(total_requests DESC, client_id);
