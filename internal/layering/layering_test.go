package layering_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/permiso-auth/permiso/"

// rules names, for each package, the module packages it must not import
// (directly or through others).
var rules = []struct {
	pkgs      []string
	forbidden []string
}{
	// Leaves.
	{[]string{"internal/web", "internal/config", "internal/apitype", "internal/opaque"}, []string{"internal/"}},
	// The domain packages import store and the leaves, nothing above.
	{[]string{"internal/store", "internal/store/sqlstore", "internal/store/storetest", "internal/keys", "internal/rbac",
		"internal/account", "internal/audit", "internal/ratelimit", "internal/replay"},
		[]string{"internal/tokens", "internal/oauth", "internal/api", "internal/console", "internal/server"}},
	{[]string{"internal/tokens"}, []string{"internal/oauth", "internal/api", "internal/console", "internal/server"}},
	{[]string{"internal/oauth", "internal/oauth/authorize"}, []string{"internal/api", "internal/console", "internal/server"}},
	{[]string{"internal/api"}, []string{"internal/console", "internal/server"}},
}

type pkg struct {
	ImportPath string
	Deps       []string
	Imports    []string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not available")
	}
	out, err := exec.Command(gobin, "list", "-json=ImportPath,Deps,Imports", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, mod)] = p
	}
	return pkgs
}

func TestImportsPointDown(t *testing.T) {
	pkgs := listPackages(t)
	for _, r := range rules {
		for _, name := range r.pkgs {
			p, ok := pkgs[name]
			if !ok {
				t.Errorf("%s: no such package", name)
				continue
			}
			for _, dep := range p.Deps {
				dep, ours := strings.CutPrefix(dep, mod)
				if !ours || strings.HasPrefix(dep, "sdk/") {
					continue
				}
				for _, f := range r.forbidden {
					if dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, f) || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s imports %s", name, dep)
					}
				}
			}
		}
	}
}

func TestOnlyCmdImportsServer(t *testing.T) {
	for name, p := range listPackages(t) {
		if slices.Contains(p.Imports, mod+"internal/server") && name != "cmd/permiso" {
			t.Errorf("%s imports internal/server", name)
		}
	}
}
