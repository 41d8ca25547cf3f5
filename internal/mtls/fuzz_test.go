package mtls_test

import (
	"net/url"
	"testing"

	"github.com/permiso-auth/permiso/internal/mtls"
)

func FuzzParseXFCC(f *testing.F) {
	f.Add(`By=spiffe://a/b;Hash=abc;Cert="` + url.QueryEscape("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n") + `";URI=spiffe://x`)
	f.Add(`Hash=a,Hash=b`)
	f.Add(`Subject="CN=a\"b, O=c";DNS=x;DNS=y`)
	f.Add(`Cert="abc`)
	f.Fuzz(func(t *testing.T, v string) {
		chain, err := mtls.ParseXFCC(v)
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
		chain, err := mtls.ParseEscapedPEM(v)
		if err == nil && chain != nil && len(chain) == 0 {
			t.Fatal("empty non-nil chain")
		}
	})
}

func FuzzParseDN(f *testing.F) {
	f.Add(`CN=bot,OU=Trading,O=Example\, Inc.,C=DE`)
	f.Add(`CN=#0c0161+UID=x`)
	f.Add(`1.2.3=a\2cb`)
	f.Fuzz(func(t *testing.T, v string) {
		mtls.ParseDN(v)
		mtls.NormalizeValue(mtls.FieldSubjectDN, v)
	})
}
