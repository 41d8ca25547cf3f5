// Package console is Permiso's admin console, served at /admin: server-rendered
// pages (html/template, embedded with the stylesheet and one small script)
// for service clients, users, roles and scopes, sessions, signing keys and
// the audit log.
//
// The console owns its pages, its browser sessions and its sign-in. It signs
// administrators in through Permiso's own authorization endpoint, as a
// first-party confidential client ("permiso-console") using the
// authorization-code flow with PKCE, and keeps the resulting tokens on the
// server, in memory, under a random cookie.
//
// It owns no rules. Every page and every action is a call to the in-process
// /api/v1 handler with the signed-in user's bearer token, so each one is
// authorised by the same admin scopes as the API and audited by it, with the
// browser's address and request id; a refusal from the API (403) is shown on
// the page as it is. The token endpoint, revocation and logout are likewise
// the server's own handlers, called in-process.
//
// Sessions live in one process's memory: behind a load balancer, route /admin
// with sticky sessions (or sign in again after a failover).
package console
