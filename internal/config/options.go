package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"
)

type option struct {
	name  string
	help  string
	value valueSetter
}

type valueSetter interface {
	String() string
	Set(string) error
}

func (o option) env() string {
	return "PERMISO_" + strings.ToUpper(strings.ReplaceAll(o.name, "-", "_"))
}

// options declares every option once, with its default.
func options(c *Config) []option {
	return []option{
		{"config", "YAML configuration file", str(&c.File, "")},
		{"data-dir", "directory for the SQLite database, the development master key and the bootstrap credentials", str(&c.DataDir, "./permiso-data")},
		{"addr", "listen address", str(&c.Addr, "127.0.0.1:8000")},
		{"issuer", "issuer URL (default http://ADDR); set it when Permiso sits behind a proxy or TLS terminator", str(&c.Issuer, "")},
		{"api-audience", "an audience Permiso's own /api/v1 accepts besides the issuer; every client may ask for it with resource=", str(&c.APIAudience, "")},
		{"database-url", "postgres://... to use PostgreSQL instead of the embedded SQLite", str(&c.DatabaseURL, "")},
		{"master-key", "secret (>= 32 chars) that encrypts signing keys and peppers client secrets; default: generated into DATA_DIR/master.key", str(&c.MasterKey, "")},
		{"environment", "environment name reported by /health", str(&c.Environment, "development")},
		{"signing-alg", "algorithm of new signing keys: ES256, EdDSA or RS256", str(&c.SigningAlg, "ES256")},
		{"key-publish-delay", "how long a rotated key is published before it signs", dur(&c.KeyPublishDelay, 10*time.Minute)},
		{"key-retention", "how long a retired key stays published (must exceed the longest token lifetime)", dur(&c.KeyRetention, 25*time.Hour)},
		{"log-level", "debug, info, warn or error", str(&c.LogLevel, "info")},
		{"log-format", "json or text", str(&c.LogFormat, "json")},
		{"trusted-proxies", "addresses/CIDRs whose X-Forwarded-For is believed, separated by commas or spaces", list(&c.TrustedProxies)},
		{"cors-origins", "origins allowed to call the API from a browser, separated by commas or spaces", list(&c.CORSOrigins)},
		{"outbound-allow", "internal addresses/CIDRs Permiso may call (webhooks, client jwks_uri, trust keys), separated by commas or spaces; loopback, private and link-local are refused otherwise", list(&c.OutboundAllow)},
		{"drain-delay", "after SIGTERM or Ctrl-C, how long readiness reports false before the listener closes, so load balancers stop sending first (a second Ctrl-C exits at once)", dur(&c.DrainDelay, 5*time.Second)},
		{"shutdown-timeout", "how long SIGTERM waits for in-flight requests", dur(&c.ShutdownTimeout, 15*time.Second)},
		{"read-timeout", "HTTP read timeout", dur(&c.ReadTimeout, 10*time.Second)},
		{"write-timeout", "HTTP write timeout", dur(&c.WriteTimeout, 15*time.Second)},
		{"idle-timeout", "HTTP keep-alive idle timeout", dur(&c.IdleTimeout, 120*time.Second)},
		{"max-header-bytes", "largest request header block accepted", num(&c.MaxHeaderBytes, 16<<10)},
		{"pprof-addr", "serve Go's profiler (/debug/pprof/) on this loopback address; off by default", str(&c.PprofAddr, "")},
		{"metrics-addr", "serve /metrics on this address instead of the main listener", str(&c.MetricsAddr, "")},
		{"redis-url", "redis://... to share rate limits across replicas", str(&c.RedisURL, "")},
		{"redis-prefix", "key prefix in Redis", str(&c.RedisPrefix, "permiso:")},
		{"access-token-lifetime", "lifetime of user access tokens", dur(&c.AccessTokenLifetime, 30*time.Minute)},
		{"refresh-token-lifetime", "absolute lifetime of a refresh-token family", dur(&c.RefreshTokenLifetime, 7*24*time.Hour)},
		{"secret-grace", "default grace period of a rotated-out client secret", dur(&c.SecretGrace, 24*time.Hour)},
		{"max-login-attempts", "failed logins from one address (IPv6: one /64) before it is locked out of the account", num(&c.MaxLoginAttempts, 5)},
		{"max-user-login-attempts", "failed logins from all addresses within --lockout-duration before the account is locked from every address (0: 4 × --max-login-attempts)", num(&c.MaxUserLoginAttempts, 0)},
		{"lockout-duration", "how long a lockout lasts", dur(&c.LockoutDuration, 15*time.Minute)},
		{"audit-retention", "how long audit events are kept", dur(&c.AuditRetention, 90*24*time.Hour)},
		{"default-user-role", "role given to newly registered users", str(&c.DefaultUserRole, "user")},
		{"password-min-length", "minimum password length", num(&c.PasswordMinLength, 8)},
		{"smtp-url", "smtp://user:pass@host:port for outgoing mail; empty: mail is written to the log", str(&c.SMTPURL, "")},
		{"mail-from", "sender address of outgoing mail", str(&c.MailFrom, "permiso@localhost")},
		{"auth-failures-per-minute", "failed authentications allowed per client id and per IP each minute", num(&c.AuthFailuresPerMin, 30)},
		{"cache-ttl", "backstop lifetime of cached clients, scopes and roles", dur(&c.CacheTTL, 30*time.Second)},
		{"stale-if-error", "while the database is unreachable, how long known clients, scopes, roles and keys are served from memory, counted from the last successful sync", dur(&c.StaleIfError, time.Hour)},
		{"txn-token-trust-domain", "enable transaction tokens (experimental, draft-ietf-oauth-transaction-tokens-11) for this trust domain: their aud, the one audience a transaction-token request may name", str(&c.TxnTrustDomain, "")},
		{"txn-token-lifetime", "lifetime of transaction tokens (never beyond the subject token)", dur(&c.TxnTokenLifetime, time.Minute)},
		{"revocation-feed-auth", "require client authentication (client_secret_basic) on the revocation feed /oauth2/revocations; it is public by default", boolean(&c.RevocationFeedAuth, false)},
		{"dpop-nonce", "require a server-provided nonce in DPoP proofs at the token endpoint and the API (RFC 9449 §8)", boolean(&c.DPoPNonce, false)},
		{"tls-cert", "PEM certificate (chain) to serve HTTPS with on addr and mtls-addr", str(&c.TLSCert, "")},
		{"tls-key", "PEM private key of tls-cert", str(&c.TLSKey, "")},
		{"mtls-addr", "separate HTTPS listener that asks clients for certificates (tls_client_auth, self_signed_tls_client_auth); needs tls-cert", str(&c.MTLSAddr, "")},
		{"mtls-base-url", "base URL of the client-certificate endpoints, advertised as mtls_endpoint_aliases (default https://ISSUER-HOST:MTLS-PORT)", str(&c.MTLSBaseURL, "")},
		{"client-ca-file", "PEM bundle of the CAs that issue tls_client_auth certificates", str(&c.ClientCAFile, "")},
		{"client-cert-header", "header a trusted proxy forwards the client certificate in, e.g. X-SSL-Client-Cert (nginx) or X-Forwarded-Client-Cert (Envoy)", str(&c.ClientCertHeader, "")},
		{"client-cert-header-format", "nginx (URL-escaped PEM) or xfcc (Envoy); default from the header name", str(&c.ClientCertFormat, "")},
		{"assertion-max-lifetime", "how far ahead a private_key_jwt assertion's exp may be", dur(&c.AssertionMaxLifetime, 5*time.Minute)},
		{"replay-strict", "refuse private_key_jwt assertions while neither the database nor Redis can record their jti (default: each replica keeps its own record meanwhile)", boolean(&c.ReplayStrict, false)},
	}
}

type strValue struct{ p *string }

func str(p *string, def string) valueSetter { *p = def; return strValue{p} }
func (v strValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v strValue) Set(s string) error { *v.p = s; return nil }

type durValue struct{ p *time.Duration }

func dur(p *time.Duration, def time.Duration) valueSetter { *p = def; return durValue{p} }
func (v durValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}
func (v durValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30s or 15m", s)
	}
	*v.p = d
	return nil
}

type numValue struct{ p *int }

func num(p *int, def int) valueSetter { *p = def; return numValue{p} }
func (v numValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}
func (v numValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", s)
	}
	*v.p = n
	return nil
}

type boolValue struct{ p *bool }

func boolean(p *bool, def bool) valueSetter { *p = def; return boolValue{p} }
func (v boolValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.FormatBool(*v.p)
}
func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v.p = b
	return nil
}

// IsBoolFlag lets --flag stand for --flag=true.
func (v boolValue) IsBoolFlag() bool { return true }

type listValue struct{ p *[]string }

func list(p *[]string) valueSetter { return listValue{p} }
func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}
func (v listValue) Set(s string) error {
	// Commas and spaces both separate, as everywhere in Permiso.
	*v.p = strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	return host, n, nil
}
