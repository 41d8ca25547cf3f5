// Package web is the HTTP edge shared by the oauth, api and server packages.
//
// Handlers return errors; one adapter, [Handle], turns them into responses.
// An [*Error] carries the status, the OAuth error code, text that is safe to
// show, and headers such as WWW-Authenticate and Retry-After, so a header can
// never be dropped on the way out (the original Permiso lost both). Any other
// error is logged with the request id and answered with a bare 500 that
// reveals nothing. The package also owns request ids, client-IP resolution
// behind trusted proxies, and bounded JSON and form decoding.
package web
