// Package authorize implements the browser side of OAuth 2.0 at Permiso:
// the authorization endpoint (RFC 6749 §4.1) with PKCE (RFC 7636) and the
// iss response parameter (RFC 9207), the server-rendered login page it
// leads to, and the authorization_code grant it hands to the token
// endpoint ([Handler.Grant], listed in the provider's Config).
//
// It owns the authorization request rules (exact redirect-URI matching,
// scope and resource checks, PKCE), the CSRF protection of its forms, the
// signed pending request carried through the login form, and the
// single-use codes. It leaves password checks, lockout, audit of login
// attempts and sessions to the account service ([Accounts]), the minting of
// access and refresh tokens to oauth.UserTokens ([TokenIssuer]), and client
// authentication at the token endpoint to the oauth dispatcher.
//
// The pages work without JavaScript: plain HTML forms, one stylesheet, and
// a strict Content-Security-Policy of their own.
package authorize
