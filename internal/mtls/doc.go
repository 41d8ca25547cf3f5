// Package mtls finds the client certificate of a request and answers the
// questions RFC 8705 (OAuth 2.0 mutual-TLS client authentication) asks of
// it. It owns:
//
//   - where the certificate comes from: the TLS connection, when Permiso
//     terminates TLS itself (on its client-certificate listener), or a
//     header set by a reverse proxy that terminated TLS, believed only when
//     the direct peer is one of the configured trusted proxies. Two header
//     formats are read: nginx's $ssl_client_escaped_cert (URL-escaped PEM)
//     and Envoy's X-Forwarded-Client-Cert (XFCC, one element; configure
//     Envoy with forward_client_cert_details: SANITIZE_SET);
//   - chain verification against the configured client CAs (tls_client_auth);
//   - the one registered value of RFC 8705 §2.1.2 (subject DN, or a dNSName,
//     URI, IP address or rfc822Name SAN) matched against a certificate;
//   - the certificate's SHA-256 thumbprint (x5t#S256, RFC 8705 §3.1), which
//     certificate-bound access tokens carry in cnf.
//
// The TLS listener asks for a certificate without verifying it
// (tls.RequestClientCert): self_signed_tls_client_auth clients present
// certificates no CA issued, so each authentication method decides.
//
// The forwarded-header parsers and the thumbprint live in sdk/clientcert,
// which sdk/guard shares for certificate-bound tokens.
//
// What a client may authenticate with is the oauth package's decision;
// this package parses and matches, and never logs or echoes a certificate.
package mtls
