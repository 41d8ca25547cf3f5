package mtls_test

import (
	"testing"

	"github.com/permiso-auth/permiso/internal/mtls"
)

func FuzzParseDN(f *testing.F) {
	f.Add(`CN=bot,OU=Trading,O=Example\, Inc.,C=DE`)
	f.Add(`CN=#0c0161+UID=x`)
	f.Add(`1.2.3=a\2cb`)
	f.Fuzz(func(t *testing.T, v string) {
		mtls.ParseDN(v)
		mtls.NormalizeValue(mtls.FieldSubjectDN, v)
	})
}
