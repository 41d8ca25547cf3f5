// Package clientcert finds the TLS client certificate of a request, for
// OAuth 2.0 mutual TLS (RFC 8705): on the connection when the process
// terminates TLS itself, or in a header set by a reverse proxy that
// terminated it, believed only when the request's direct peer is one of the
// configured trusted proxies. Two header formats are read: nginx's
// $ssl_client_escaped_cert (URL-escaped PEM) and Envoy's
// X-Forwarded-Client-Cert (XFCC, exactly one element: configure Envoy with
// forward_client_cert_details: SANITIZE_SET). [Thumbprint] is the
// certificate's x5t#S256 (RFC 8705 §3.1), which certificate-bound access
// tokens carry in cnf.
//
// Permiso's server (client authentication) and sdk/guard (certificate-bound
// tokens) both read certificates with this package. Nothing here verifies a
// chain or logs a certificate.
//
// API maturity: new; may change before the sdk module's next minor release.
package clientcert
