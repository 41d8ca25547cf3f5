-- Delegated administration (issue 10): an administrator grants only the
-- scopes it holds. The bootstrap client used to hold only the admin:*
-- scopes, which under that rule would stop it creating an admin user (the
-- admin role also holds read:profile and write:profile) or the first
-- service clients. A bootstrap client that still holds every admin:* scope,
-- as created, now holds every scope, as new installations' does. One that an
-- operator narrowed is left alone.
INSERT INTO client_scopes (client_id, scope_id)
SELECT c.id, s.id
FROM clients c CROSS JOIN scopes s
WHERE c.client_id = 'permiso-admin'
  AND NOT EXISTS (SELECT 1 FROM client_scopes x WHERE x.client_id = c.id AND x.scope_id = s.id)
  AND (SELECT COUNT(*) FROM client_scopes y JOIN scopes z ON z.id = y.scope_id
       WHERE y.client_id = c.id
         AND z.name IN ('admin:users', 'admin:clients', 'admin:roles', 'admin:sessions', 'admin:tokens',
                        'admin:audit', 'admin:system', 'admin:security', 'admin:permissions', 'admin:logs')) = 10;

-- The console's client held the admin:* scopes and read:profile, which
-- capped a signed-in administrator's token: under the delegation rule they
-- could then not grant, through the console, scopes they hold. The console
-- client as created now holds every scope too (its tokens carry the user's
-- scopes, and their audience is Permiso's own API); one an operator changed
-- is left alone.
INSERT INTO client_scopes (client_id, scope_id)
SELECT c.id, s.id
FROM clients c CROSS JOIN scopes s
WHERE c.client_id = 'permiso-console'
  AND NOT EXISTS (SELECT 1 FROM client_scopes x WHERE x.client_id = c.id AND x.scope_id = s.id)
  AND (SELECT COUNT(*) FROM client_scopes y WHERE y.client_id = c.id) = 11
  AND (SELECT COUNT(*) FROM client_scopes y JOIN scopes z ON z.id = y.scope_id
       WHERE y.client_id = c.id
         AND z.name IN ('admin:users', 'admin:clients', 'admin:roles', 'admin:sessions', 'admin:tokens', 'admin:audit',
                        'admin:system', 'admin:security', 'admin:permissions', 'admin:logs', 'read:profile')) = 11;
