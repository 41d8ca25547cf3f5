package layering_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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

// verifyCalls are the ways to check a signature or parse a JWS by hand.
// Outside sdk/jwt, none may appear: every verifier uses the one
// implementation (docs/architecture.md, "Verification path").
var verifyCalls = []string{
	"ecdsa.Verify(", "ecdsa.VerifyASN1(", "ed25519.Verify(", "ed25519.VerifyWithOptions(",
	"rsa.VerifyPKCS1v15(", "rsa.VerifyPSS(", "ParseSigned(", "ParseSignedCompact(", "ParseSignedJSON(",
	`"github.com/go-jose/go-jose/v4/jwt"`, `"github.com/golang-jwt/`, `"github.com/lestrrat-go/jwx`,
}

// verifyBaselines are the files allowed to verify by hand: the benchmark's
// reference handler (the minimal baseline Permiso's code is measured
// against, checking only tokens it signed itself) and the raw-ECDSA
// baselines of benchmarks and of the reference's own test.
var verifyBaselines = []string{
	"internal/bench/reference.go",
	"internal/bench/reference_test.go",
	"sdk/guard/bench_test.go",
}

func TestOneVerifier(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "sdk", "jwt", "doc.go")); err != nil {
		t.Fatalf("repository root not found from the test's directory: %v", err)
	}
	seen := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "testdata", "vendor", ".git":
				return filepath.SkipDir
			}
			if rel == "sdk/jwt" {
				return filepath.SkipDir
			}
			return nil
		}
		// This file names the calls it looks for.
		if !strings.HasSuffix(path, ".go") || slices.Contains(verifyBaselines, rel) || rel == "internal/layering/layering_test.go" {
			return nil
		}
		seen++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, call := range verifyCalls {
			if strings.Contains(string(b), call) {
				t.Errorf("%s: %s outside sdk/jwt; verify with sdk/jwt", rel, call)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 100 {
		t.Fatalf("only %d Go files scanned under %s", seen, root)
	}
}
