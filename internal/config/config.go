package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Config is the whole configuration of `permiso serve`.
type Config struct {
	File        string
	DataDir     string
	Addr        string
	Issuer      string
	APIAudience string
	DatabaseURL string
	MasterKey   string
	Environment string

	SigningAlg      string
	KeyPublishDelay time.Duration
	KeyRetention    time.Duration

	LogLevel  string
	LogFormat string

	TrustedProxies  []string
	CORSOrigins     []string
	OutboundAllow   []string
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	MaxHeaderBytes  int

	MetricsAddr string
	PprofAddr   string
	RedisURL    string
	RedisPrefix string

	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	SecretGrace          time.Duration
	MaxLoginAttempts     int
	MaxUserLoginAttempts int
	LockoutDuration      time.Duration
	AuditRetention       time.Duration
	DefaultUserRole      string
	PasswordMinLength    int
	SMTPURL              string
	MailFrom             string
	AuthFailuresPerMin   int
	CacheTTL             time.Duration
	StaleIfError         time.Duration
	RevocationFeedAuth   bool
	DPoPNonce            bool

	// Machines without shared secrets (docs/machine-identity.md).
	TLSCert              string
	TLSKey               string
	MTLSAddr             string
	MTLSBaseURL          string
	ClientCAFile         string
	ClientCertHeader     string
	ClientCertFormat     string
	AssertionMaxLifetime time.Duration
	ReplayStrict         bool
	TxnTrustDomain       string
	TxnTokenLifetime     time.Duration
}

// Load parses args (without the program and subcommand names) with env
// (os.Environ form) as the fallback. It returns flag.ErrHelp after
// printing usage to out when asked for help.
func Load(name string, args, env []string, out io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	opts := options(c)
	for _, o := range opts {
		fs.Var(o.value, o.name, o.help+" (env "+o.env()+")")
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: permiso %s [options]\n\nOptions (flag > env PERMISO_* > --config file > default):\n", name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	envs := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envs[k] = v
		}
	}
	// The file path itself may come from the environment.
	if !set["config"] {
		if v, ok := envs["PERMISO_CONFIG"]; ok {
			c.File = v
		}
	}
	file, err := readFile(c.File)
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, o := range opts {
		if set[o.name] || o.name == "config" {
			continue
		}
		if v, ok := envs[o.env()]; ok {
			if err := o.value.Set(v); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", o.env(), err))
			}
			continue
		}
		if v, ok := lookupFile(file, o.name); ok {
			if err := o.value.Set(v); err != nil {
				problems = append(problems, fmt.Errorf("%s in %s: %w", o.name, c.File, err))
			}
		}
	}
	for k := range file {
		if !known(opts, k) {
			problems = append(problems, fmt.Errorf("unknown option %q in %s", k, c.File))
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	c.fill()
	return c, c.Validate()
}

func readFile(path string) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse config file %s: %w", path, err)
	}
	return m, nil
}

func lookupFile(m map[string]any, name string) (string, bool) {
	for _, k := range []string{name, strings.ReplaceAll(name, "-", "_")} {
		v, ok := m[k]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			return strings.Join(parts, ","), true
		case nil:
			return "", true
		default:
			return fmt.Sprint(v), true
		}
	}
	return "", false
}

func known(opts []option, key string) bool {
	key = strings.ReplaceAll(key, "_", "-")
	for _, o := range opts {
		if o.name == key {
			return true
		}
	}
	return false
}

// fill derives defaults that depend on other options.
func (c *Config) fill() {
	if c.Issuer == "" {
		c.Issuer = "http://" + c.Addr
		if c.TLSCert != "" {
			c.Issuer = "https://" + c.Addr
		}
	}
	c.Issuer = strings.TrimSuffix(c.Issuer, "/")
	c.fillMachineIdentity()
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := splitHostPort(c.Addr); err != nil {
		add("addr %q: %v", c.Addr, err)
	}
	if c.PprofAddr != "" {
		if host, _, err := splitHostPort(c.PprofAddr); err != nil || !isLoopback(host) {
			add("pprof-addr %q must be a loopback address such as 127.0.0.1:6060", c.PprofAddr)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := splitHostPort(c.MetricsAddr); err != nil {
			add("metrics-addr %q: %v", c.MetricsAddr, err)
		}
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		add("issuer %q must be an http(s) URL without query or fragment", c.Issuer)
	}
	if c.APIAudience != "" {
		if u, err := url.Parse(c.APIAudience); err != nil || !u.IsAbs() || u.Fragment != "" {
			add("api-audience %q must be an absolute URI without a fragment", c.APIAudience)
		}
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		add("database-url must be a postgres:// URL (leave it empty for the embedded SQLite)")
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		add("redis-url must be a redis:// or rediss:// URL")
	}
	if c.MasterKey != "" && len(c.MasterKey) < 32 {
		add("master-key must be at least 32 characters")
	}
	switch c.SigningAlg {
	case "ES256", "EdDSA", "RS256":
	default:
		add("signing-alg %q: want ES256, EdDSA or RS256", c.SigningAlg)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		add("log-format %q: want json or text", c.LogFormat)
	}
	for _, p := range c.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			add("trusted-proxies: %v", err)
		}
	}
	for _, p := range c.OutboundAllow {
		if _, err := ParsePrefix(p); err != nil {
			add("outbound-allow: %v", err)
		}
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || o == "*" {
			add("cors-origins: %q must be an origin such as https://app.example.com", o)
		}
	}
	if c.MaxLoginAttempts <= 0 {
		add("max-login-attempts must be positive")
	}
	if c.MaxUserLoginAttempts != 0 && c.MaxUserLoginAttempts <= c.MaxLoginAttempts {
		// Otherwise one address could lock a user out of every address.
		add("max-user-login-attempts must be 0 or more than max-login-attempts")
	}
	if c.PasswordMinLength < 6 {
		add("password-min-length must be at least 6")
	}
	if c.AccessTokenLifetime < time.Minute || c.AccessTokenLifetime > 24*time.Hour {
		add("access-token-lifetime must be between 1m and 24h")
	}
	if c.KeyRetention < 24*time.Hour+time.Minute {
		add("key-retention must exceed the longest access-token lifetime (24h)")
	}
	if c.MaxHeaderBytes < 4096 {
		add("max-header-bytes must be at least 4096")
	}
	if c.DrainDelay < 0 || c.DrainDelay > 5*time.Minute {
		add("drain-delay must be between 0s and 5m")
	}
	if c.TxnTokenLifetime < time.Second || c.TxnTokenLifetime > 10*time.Minute {
		add("txn-token-lifetime must be between 1s and 10m: transaction tokens are short-lived")
	}
	if strings.TrimSpace(c.TxnTrustDomain) != c.TxnTrustDomain || strings.ContainsAny(c.TxnTrustDomain, " \t\r\n") {
		add("txn-token-trust-domain must not contain white space")
	}
	if c.StaleIfError < 0 {
		add("stale-if-error must not be negative (0 turns serving from memory during an outage off)")
	}
	c.validateMachineIdentity(add)
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// ParsePrefix parses an address or CIDR into a prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not an address or CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
