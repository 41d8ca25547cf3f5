package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// inspection is what `permiso token inspect` finds out about a token.
type inspection struct {
	Header    map[string]any  `json:"header,omitempty"`
	Claims    json.RawMessage `json:"claims,omitempty"`
	Signature *sigCheck       `json:"signature,omitempty"`
	Expiry    *expiry         `json:"expiry,omitempty"`
	// Introspection is the server's RFC 7662 answer (or the original API's,
	// for a token asking about itself).
	Introspection  json.RawMessage `json:"introspection,omitempty"`
	IntrospectedBy string          `json:"introspected_by,omitempty"`
	Problems       []string        `json:"problems,omitempty"`
}

type sigCheck struct {
	Valid  bool   `json:"valid"`
	KeyID  string `json:"kid,omitempty"`
	Alg    string `json:"alg,omitempty"`
	JWKS   string `json:"jwks_uri,omitempty"`
	Detail string `json:"detail,omitempty"`
}

type expiry struct {
	ExpiresAt        time.Time `json:"expires_at"`
	ExpiresInSeconds int64     `json:"expires_in_seconds"` // negative once expired
	Human            string    `json:"human"`
}

func tokenInspect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso token inspect", "[TOKEN|-] [options]",
		"Decodes a token, verifies its signature against the server's published keys (JWKS), asks the server\n"+
			"whether it is still active (introspection), and shows when it expires. The token is read from\n"+
			"standard input when not given. Introspection authenticates with the credentials (flags, environment\n"+
			"or credentials file) when there are any; otherwise the token asks about itself.\n"+
			"The exit status is 1 when the token is not valid now (bad signature, expired, revoked, inactive).", stderr)
	conn := addConnFlagsFor(fs, "introspecting client's", "print JSON")
	tok, err := parseTokenArg(fs, args, stdin)
	if err != nil {
		return err
	}
	hc := newHTTPClient()
	server := conn.serverURL()
	now := time.Now()
	var in inspection
	var claims wire.Claims
	if isJWT(tok) {
		if err := decodeJWT(tok, &in, &claims); err != nil {
			return err
		}
		if claims.Expiry != 0 {
			exp := time.Unix(claims.Expiry, 0).UTC()
			in.Expiry = &expiry{ExpiresAt: exp, ExpiresInSeconds: int64(exp.Sub(now).Truncate(time.Second) / time.Second),
				Human: untilHuman(exp, now)}
			if !now.Before(exp) {
				in.Problems = append(in.Problems, "expired")
			}
		}
		in.Signature = verifySignature(ctx, hc, server, tok, &claims)
		if !in.Signature.Valid {
			in.Problems = append(in.Problems, "signature: "+in.Signature.Detail)
		}
	}
	in.IntrospectedBy, in.Introspection, err = introspect(ctx, hc, conn, server, tok, stderr)
	if err != nil {
		in.Problems = append(in.Problems, "introspection: "+err.Error())
	} else if !introspectionActive(in.Introspection) {
		in.Problems = append(in.Problems, "inactive: the server says the token is revoked, expired, or its client or user is disabled")
	}
	if conn.json {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		if err := writeJSON(stdout, raw); err != nil {
			return err
		}
	} else if err := printInspection(stdout, &in); err != nil {
		return err
	}
	if len(in.Problems) > 0 {
		return errors.New("the token is not valid now")
	}
	return nil
}

func isJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// decodeJWT reads the header and claims without verifying them; the
// signature is checked separately against the server's keys.
func decodeJWT(tok string, in *inspection, claims *wire.Claims) error {
	parts := strings.Split(tok, ".")
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(h, &in.Header) != nil {
		return errors.New("not a JWT: the header is not base64url-encoded JSON")
	}
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || !json.Valid(p) {
		return errors.New("not a JWT: the payload is not base64url-encoded JSON")
	}
	in.Claims = p
	if err := json.Unmarshal(p, claims); err != nil {
		return fmt.Errorf("not an access token: %w", err)
	}
	return nil
}

// verifySignature checks the form, type, key, signature and issuer with
// the one verifier (sdk/jwt), against the keys the server publishes. An
// expired token is still shown as genuine or not (the signature is checked
// before the times); its expiry is reported on its own.
func verifySignature(ctx context.Context, hc *http.Client, server, tok string, c *wire.Claims) *sigCheck {
	var md wire.Metadata
	if err := getJSON(ctx, hc, server+"/.well-known/oauth-authorization-server", &md); err != nil {
		return &sigCheck{Detail: "could not read the server's metadata: " + err.Error()}
	}
	out := &sigCheck{JWKS: md.JWKSURI}
	if c.Issuer != md.Issuer {
		out.Detail = fmt.Sprintf("issued by %q, not by this server (%s)", c.Issuer, md.Issuer)
		return out
	}
	raw, err := getRaw(ctx, hc, md.JWKSURI)
	if err != nil {
		out.Detail = "could not read the server's keys: " + err.Error()
		return out
	}
	keys, err := jwt.ParseJWKS(raw)
	if err != nil {
		out.Detail = "the server's keys: " + err.Error()
		return out
	}
	v, err := jwt.NewVerifier(jwt.Config{Keys: keys, Types: []string{wire.AccessTokenJWTType}, Issuer: md.Issuer,
		Require: []string{jwt.ClaimIssuer, jwt.ClaimSubject, jwt.ClaimExpiry, jwt.ClaimIssuedAt, jwt.ClaimID}})
	if err != nil {
		out.Detail = err.Error()
		return out
	}
	t, err := v.Verify(ctx, tok)
	switch {
	case err == nil, errors.Is(err, jwt.ErrExpired), errors.Is(err, jwt.ErrNotYetValid):
		// Times are checked after the signature: it held.
		out.Valid = true
		if t != nil {
			out.KeyID, out.Alg = t.Key.ID, t.Header.Algorithm
		} else if u, err := jwt.ParseUnverified(tok); err == nil {
			// A time error comes without the token; its header is the one
			// that verified.
			out.KeyID, out.Alg = u.Header.KeyID, u.Header.Algorithm
		}
	default:
		out.Detail = strings.TrimPrefix(err.Error(), "jwt: ")
	}
	return out
}

// introspect asks the server about tok: RFC 7662 with the credentials
// when there are any, else the token asking about itself at the original
// API's /api/v1/auth/introspect.
func introspect(ctx context.Context, hc *http.Client, conn *connFlags, server, tok string, stderr io.Writer) (string, json.RawMessage, error) {
	id, secret, err := conn.credentials()
	if err == nil {
		raw, err := postForm(ctx, hc, server+"/oauth2/introspect", id, secret, url.Values{"token": {tok}}, io.Discard)
		return "client " + id + " at /oauth2/introspect", raw, err
	}
	body, _ := json.Marshal(map[string]string{"token": tok})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/api/v1/auth/introspect", bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := hc.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("POST /api/v1/auth/introspect: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return "", nil, err
	}
	by := "the token itself at /api/v1/auth/introspect"
	switch res.StatusCode {
	case http.StatusOK:
		return by, raw, nil
	case http.StatusUnauthorized:
		// The token is not accepted as its own credential: it is not active.
		return by, json.RawMessage(`{"active":false}`), nil
	}
	return by, nil, fmt.Errorf("server answered %s (give credentials to introspect at /oauth2/introspect)", res.Status)
}

func introspectionActive(raw json.RawMessage) bool {
	var r struct {
		Active bool `json:"active"`
	}
	return raw != nil && json.Unmarshal(raw, &r) == nil && r.Active
}

func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	b, err := getRaw(ctx, hc, u)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func getRaw(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	return send(hc, req, io.Discard)
}

func printInspection(w io.Writer, in *inspection) error {
	if in.Header != nil {
		fmt.Fprintf(w, "header:\n")
		printObject(w, in.Header)
		var claims map[string]any
		json.Unmarshal(in.Claims, &claims)
		fmt.Fprintf(w, "claims:\n")
		printObject(w, claims)
	}
	if s := in.Signature; s != nil {
		if s.Valid {
			fmt.Fprintf(w, "signature:  valid (%s key %s from %s)\n", s.Alg, s.KeyID, s.JWKS)
		} else {
			fmt.Fprintf(w, "signature:  NOT VALID: %s\n", s.Detail)
		}
	}
	if e := in.Expiry; e != nil {
		fmt.Fprintf(w, "expiry:     %s (%s)\n", e.Human, e.ExpiresAt.Format(time.RFC3339))
	}
	switch {
	case in.Introspection == nil:
		fmt.Fprintf(w, "active:     unknown\n")
	case introspectionActive(in.Introspection):
		fmt.Fprintf(w, "active:     yes (asked %s)\n", in.IntrospectedBy)
	default:
		fmt.Fprintf(w, "active:     NO (asked %s)\n", in.IntrospectedBy)
	}
	for _, p := range in.Problems {
		fmt.Fprintf(w, "problem:    %s\n", p)
	}
	return nil
}

// printObject prints a JSON object's members, one a line, in key order,
// with times shown readably next to epoch seconds.
func printObject(w io.Writer, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m[k]
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case float64:
			s = fmt.Sprint(int64(x))
			if k == "exp" || k == "iat" || k == "nbf" || k == "auth_time" {
				t := time.Unix(int64(x), 0).UTC()
				s += "  (" + t.Format(time.RFC3339) + ", " + untilHuman(t, time.Now()) + ")"
			}
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		fmt.Fprintf(w, "  %-12s %s\n", k, s)
	}
}

// untilHuman says when t is relative to now: "in 59m 58s", "3h 2m ago".
func untilHuman(t, now time.Time) string {
	d := t.Sub(now).Truncate(time.Second)
	if d >= 0 {
		if d == 0 {
			return "now"
		}
		return "in " + humanDuration(d)
	}
	return humanDuration(-d) + " ago"
}

// humanDuration shows d with its two largest units: 45s, 3m 20s, 2h 5m, 3d 4h.
func humanDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm %ds", s/60, s%60)
	case s < 48*3600:
		return fmt.Sprintf("%dh %dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd %dh", s/86400, s%86400/3600)
}
