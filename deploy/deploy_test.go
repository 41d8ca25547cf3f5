// Package deploy holds no code: its tests validate the deployment files
// (Dockerfile, compose, Kubernetes, and, through check.sh, nginx and
// Prometheus with their own tools).
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheckScript runs check.sh: nginx -t and promtool on the real files.
func TestCheckScript(t *testing.T) {
	out, err := exec.Command("bash", "check.sh").CombinedOutput()
	t.Logf("check.sh:\n%s", out)
	if err != nil {
		t.Fatalf("check.sh: %v", err)
	}
}

// TestCheckScriptFails proves check.sh can fail: a copy with a broken
// nginx.conf, and one with a broken alert rule, are rejected.
func TestCheckScriptFails(t *testing.T) {
	tests := []struct {
		name, tool, file, from, to string
	}{
		{"nginx", "nginx", "nginx/nginx.conf", "proxy_pass http://permiso;", "proxy_pass http://permiso"},
		{"alert rule", "promtool", "prometheus/alerts.yml", "expr: permiso_ready == 0", "expr: permiso_ready ==="},
		{"alert unit test", "promtool", "prometheus/alerts.yml", "expr: permiso_ready == 0", "expr: permiso_ready == 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := exec.LookPath(tt.tool); err != nil {
				t.Skipf("%s is not installed", tt.tool)
			}
			dir := t.TempDir()
			for _, f := range []string{"check.sh", "nginx/nginx.conf", "prometheus/prometheus.yml", "prometheus/alerts.yml", "prometheus/alerts_test.yml"} {
				os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
				body := read(t, f)
				if f == tt.file {
					if !strings.Contains(body, tt.from) {
						t.Fatalf("%s no longer contains %q", f, tt.from)
					}
					body = strings.Replace(body, tt.from, tt.to, 1)
				}
				if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("bash", filepath.Join(dir, "check.sh"))
			cmd.Env = append(os.Environ(), "CI=")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("check.sh accepted a broken %s (err %v):\n%s", tt.file, err, out)
			}
		})
	}
}

func TestDockerfile(t *testing.T) {
	df := read(t, "Dockerfile")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM golang:1\.26\S* AS build$`),
		regexp.MustCompile(`CGO_ENABLED=0`),
		regexp.MustCompile(`go build -trimpath`),
		regexp.MustCompile(`(?m)^FROM (gcr\.io/distroless/static\S*|scratch)$`),
		regexp.MustCompile(`(?m)^USER nonroot`),
		regexp.MustCompile(`(?m)^EXPOSE 8000$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/usr/local/bin/permiso", "serve"\]$`),
	} {
		if !want.MatchString(df) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	if n := strings.Count(df, "\nFROM ") + btoi(strings.HasPrefix(df, "FROM ")); n < 2 {
		t.Errorf("Dockerfile has %d stages, want a multi-stage build", n)
	}
	// The build context must contain everything the COPY lines name.
	for _, m := range regexp.MustCompile(`(?m)^COPY (?:--chown=\S+ )?([^-\s]\S*(?: \S+)*) \S+$`).FindAllStringSubmatch(df, -1) {
		for _, src := range strings.Fields(m[1]) {
			if src == "." {
				continue
			}
			if _, err := os.Stat(filepath.Join("..", src)); err != nil {
				t.Errorf("COPY source %s is not in the repository", src)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       map[string]any `yaml:"build"`
	Environment map[string]any `yaml:"environment"`
	Volumes     []string       `yaml:"volumes"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn any      `yaml:"depends_on"`
	Ports     []string `yaml:"ports"`
}

func TestCompose(t *testing.T) {
	var c struct {
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
	}
	if err := yaml.Unmarshal([]byte(read(t, "docker-compose.yml")), &c); err != nil {
		t.Fatal(err)
	}
	for name, image := range map[string]string{"postgres": "postgres:15", "redis": "redis:7"} {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("no %s service", name)
		}
		if !strings.HasPrefix(s.Image, image) {
			t.Errorf("%s image %q, want %s", name, s.Image, image)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	p, ok := c.Services["permiso"]
	if !ok || p.Build["dockerfile"] != "deploy/Dockerfile" || p.Build["context"] != ".." {
		t.Fatalf("permiso service must build deploy/Dockerfile from the repository root: %+v", p.Build)
	}
	secretRef := regexp.MustCompile(`\$\{(PERMISO_MASTER_KEY|POSTGRES_PASSWORD|REDIS_PASSWORD):\?`)
	for _, key := range []string{"PERMISO_MASTER_KEY", "PERMISO_DATABASE_URL", "PERMISO_REDIS_URL"} {
		v, _ := p.Environment[key].(string)
		if !secretRef.MatchString(v) {
			t.Errorf("permiso %s = %q: secrets must come from the environment and be required", key, v)
		}
	}
	deps, _ := p.DependsOn.(map[string]any)
	for _, d := range []string{"postgres", "redis"} {
		cond, _ := deps[d].(map[string]any)
		if cond["condition"] != "service_healthy" {
			t.Errorf("permiso must wait for %s to be healthy", d)
		}
	}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s uses volume %s, which is not declared", name, src)
				}
			} else if _, err := os.Stat(src); err != nil && !strings.Contains(src, "certs") {
				t.Errorf("%s mounts %s, which does not exist", name, src)
			}
		}
	}
	if n, ok := c.Services["nginx"]; !ok || !slices.Contains(n.Ports, "443:443") {
		t.Error("nginx must publish 443")
	}
}

func loadK8s(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, _ := filepath.Glob("k8s/*.yaml")
	objs := map[string]map[string]any{}
	for _, f := range files {
		dec := yaml.NewDecoder(bytes.NewReader([]byte(read(t, f))))
		for {
			var o map[string]any
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			kind, _ := o["kind"].(string)
			if kind == "" || o["apiVersion"] == nil || dig(o, "metadata", "name") == nil {
				t.Fatalf("%s: an object without apiVersion, kind or metadata.name", f)
			}
			objs[kind] = o
		}
	}
	return objs
}

// dig follows keys (and list indexes as ints) through decoded YAML.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestKubernetes(t *testing.T) {
	objs := loadK8s(t)
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget", "Secret"} {
		if objs[kind] == nil {
			t.Fatalf("no %s manifest", kind)
		}
	}
	d := objs["Deployment"]
	labels, _ := dig(d, "spec", "template", "metadata", "labels").(map[string]any)
	matches := func(sel any) bool {
		m, _ := sel.(map[string]any)
		for k, v := range m {
			if labels[k] != v {
				return false
			}
		}
		return len(m) > 0
	}
	if !matches(dig(d, "spec", "selector", "matchLabels")) || !matches(dig(objs["Service"], "spec", "selector")) ||
		!matches(dig(objs["PodDisruptionBudget"], "spec", "selector", "matchLabels")) {
		t.Error("Deployment, Service and PodDisruptionBudget selectors do not match the pod labels")
	}
	c := dig(d, "spec", "template", "spec", "containers", 0)
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got := dig(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %v, want %s", probe, got, path)
		}
	}
	if dig(d, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("pods must run as non-root")
	}
	if dig(c, "lifecycle", "preStop", "sleep", "seconds") == nil {
		t.Error("no preStop sleep: the endpoint would still get traffic while draining")
	}
	grace, _ := dig(d, "spec", "template", "spec", "terminationGracePeriodSeconds").(int)
	if grace < 25 {
		t.Errorf("terminationGracePeriodSeconds %d leaves no room for preStop + the 15s shutdown timeout", grace)
	}
	if dig(objs["PodDisruptionBudget"], "spec", "minAvailable") == nil && dig(objs["PodDisruptionBudget"], "spec", "maxUnavailable") == nil {
		t.Error("PodDisruptionBudget sets no budget")
	}
	// The Secret is an example: every value is a placeholder.
	sd, _ := dig(objs["Secret"], "stringData").(map[string]any)
	for _, key := range []string{"master-key", "database-url"} {
		v, _ := sd[key].(string)
		if !strings.Contains(v, "CHANGE-ME") {
			t.Errorf("Secret %s = %q: the example must hold placeholders only", key, v)
		}
	}
	env, _ := dig(c, "env").([]any)
	for _, e := range env {
		name, _ := dig(e, "name").(string)
		if (strings.Contains(name, "KEY") || strings.Contains(name, "DATABASE_URL")) && dig(e, "valueFrom", "secretKeyRef") == nil {
			t.Errorf("env %s must come from the Secret", name)
		}
	}
}

// TestNoPrivateKeysCommitted: certificates are generated at check time.
func TestNoPrivateKeysCommitted(t *testing.T) {
	filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		// The marker is split so that this file does not match itself.
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("PRIVATE "+"KEY-----")) {
			t.Errorf("%s holds a private key", path)
		}
		return nil
	})
}
