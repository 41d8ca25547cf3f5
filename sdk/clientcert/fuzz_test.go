package clientcert_test

import (
	"net/url"
	"testing"

	"github.com/permiso-auth/permiso/sdk/clientcert"
)

func FuzzParseXFCC(f *testing.F) {
	f.Add(`By=spiffe://a/b;Hash=abc;Cert="` + url.QueryEscape("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n") + `";URI=spiffe://x`)
	f.Add(`Hash=a,Hash=b`)
	f.Add(`Subject="CN=a\"b, O=c";DNS=x;DNS=y`)
	f.Add(`Cert="abc`)
	f.Fuzz(func(t *testing.T, v string) {
		chain, err := clientcert.ParseXFCC(v)
		if err == nil && chain != nil && len(chain) == 0 {
			t.Fatal("empty non-nil chain")
		}
	})
}

func FuzzParseEscapedPEM(f *testing.F) {
	f.Add(url.PathEscape("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"))
	f.Add("-")
	f.Add("%")
	f.Fuzz(func(t *testing.T, v string) {
		chain, err := clientcert.ParseEscapedPEM(v)
		if err == nil && chain != nil && len(chain) == 0 {
			t.Fatal("empty non-nil chain")
		}
	})
}
