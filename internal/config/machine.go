package config

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// validateMachineIdentity checks the TLS, mutual-TLS and client-assertion
// options.
func (c *Config) validateMachineIdentity(add func(string, ...any)) {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		add("tls-cert and tls-key go together")
	}
	if c.MTLSAddr != "" {
		if _, _, err := splitHostPort(c.MTLSAddr); err != nil {
			add("mtls-addr %q: %v", c.MTLSAddr, err)
		}
		if c.TLSCert == "" {
			add("mtls-addr needs tls-cert and tls-key: the client-certificate listener speaks HTTPS")
		}
		if c.MTLSAddr == c.Addr {
			add("mtls-addr must differ from addr, so browsers on the console are never asked for a certificate")
		}
	}
	if c.MTLSBaseURL != "" {
		if u, err := url.Parse(c.MTLSBaseURL); err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
			add("mtls-base-url %q must be an https URL without a path, such as https://mtls.auth.example.com", c.MTLSBaseURL)
		}
	}
	if c.ClientCertHeader != "" {
		switch c.ClientCertFormat {
		case "nginx", "xfcc":
		default:
			add("client-cert-header-format %q: want nginx or xfcc", c.ClientCertFormat)
		}
		if len(c.TrustedProxies) == 0 {
			add("client-cert-header needs trusted-proxies: the header is believed only from them")
		}
		if c.MTLSAddr == "" && c.MTLSBaseURL == "" {
			add("client-cert-header needs mtls-base-url: the URL clients reach the proxy's certificate endpoint at")
		}
	}
	if c.AssertionMaxLifetime < 10*time.Second || c.AssertionMaxLifetime > time.Hour {
		add("assertion-max-lifetime must be between 10s and 1h")
	}
}

// fillMachineIdentity derives the defaults that depend on other options.
func (c *Config) fillMachineIdentity() {
	if c.ClientCertHeader != "" && c.ClientCertFormat == "" {
		c.ClientCertFormat = "nginx"
		if strings.EqualFold(c.ClientCertHeader, "X-Forwarded-Client-Cert") {
			c.ClientCertFormat = "xfcc"
		}
	}
	if c.MTLSAddr != "" && c.MTLSBaseURL == "" {
		if u, err := url.Parse(c.Issuer); err == nil {
			if _, port, err := splitHostPort(c.MTLSAddr); err == nil {
				c.MTLSBaseURL = "https://" + u.Hostname() + ":" + strconv.Itoa(port)
			}
		}
	}
	c.MTLSBaseURL = strings.TrimSuffix(c.MTLSBaseURL, "/")
}
