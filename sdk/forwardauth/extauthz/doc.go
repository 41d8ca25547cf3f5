// Package extauthz serves Envoy's external authorization gRPC API
// (envoy.service.auth.v3.Authorization) with the decisions of
// sdk/forwardauth, so Envoy's ext_authz filter in gRPC mode gets the same
// answers as nginx, Caddy and Traefik. It is a module of its own so that
// nothing else in the SDK, and nothing in the Permiso server, depends on
// gRPC or Envoy's API.
//
// The command permiso-extauthz in this module runs it beside Envoy.
//
// API maturity: new; may change before the sdk module's next minor release.
package extauthz
