package sdk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps is a negative dependency test: the packages HTTP services import
// must not pull in gRPC (it lives in the grpcguard sub-module) or anything
// beyond the standard library, go-jose, x/oauth2 and x/sync; forwardauth
// adds only the YAML parser of its rules files.
func TestDeps(t *testing.T) {
	checkDeps(t, []string{"./clientcert", "./clientcredentials", "./dpop", "./guard", "./jwt", "./wire"}, nil)
	checkDeps(t, []string{"./forwardauth"}, []string{"go.yaml.in/yaml/v3"})
}

func checkDeps(t *testing.T, pkgs, extra []string) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not available")
	}
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, pkgs...)
	out, err := exec.Command(gobin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := []string{
		"github.com/permiso-auth/permiso/sdk/",
		"github.com/go-jose/go-jose/v4",
		"golang.org/x/oauth2",
		"golang.org/x/sync/",
	}
	allowed = append(allowed, extra...)
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list returned no packages")
	}
	for _, dep := range deps {
		if strings.Contains(dep, "google.golang.org/grpc") {
			t.Errorf("%s: the SDK's HTTP packages depend on gRPC", dep)
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(dep, a)
		}
		if !ok {
			t.Errorf("unexpected dependency %s", dep)
		}
	}
}
