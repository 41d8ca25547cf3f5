package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/permiso-auth/permiso/internal/browsertest"
)

// The README's build line. The walkthrough test runs every other line as
// written; this one it replaces with a copy of the binary the tests built
// from the same package, so the test never writes into the checkout.
const readmeBuildLine = "go build -o bin/permiso ./cmd/permiso"

// readmeAddr is the address the README uses; the test runs the server on
// a free port and puts that port wherever the README says this.
const readmeAddr = "127.0.0.1:8000"

// walkthroughBlocks returns the sh blocks of the README's walkthrough, in
// order, without their list indentation.
func walkthroughBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "<!-- walkthrough:")
	section, _, ok2 := strings.Cut(section, "<!-- /walkthrough -->")
	if !ok || !ok2 {
		t.Fatal("README.md has no <!-- walkthrough: ... <!-- /walkthrough --> section")
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)\n( *)```sh\n(.*?)\n *```").FindAllStringSubmatch(section, -1) {
		indent := m[1]
		var lines []string
		for _, l := range strings.Split(m[2], "\n") {
			lines = append(lines, strings.TrimPrefix(l, indent))
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	return blocks
}

// shell is one bash process that runs the README's blocks one after the
// other, so variables and PATH carry over as in a terminal.
type shell struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

const doneMarker = "__README_BLOCK_DONE__"

func startShell(t *testing.T, dir string, env []string) *shell {
	t.Helper()
	cmd := exec.Command("bash", "--norc", "--noprofile")
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the server it starts is in its group
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &shell{t: t, cmd: cmd, in: in, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // bash and the servers it started
		cmd.Wait()
	})
	// Stop at the first failing command, as a careful reader would.
	s.run("set -e -o pipefail; exec 2>&1")
	return s
}

// run sends a block and returns what it printed; the test fails if the
// block fails.
func (s *shell) run(block string) string {
	s.t.Helper()
	fmt.Fprintf(s.in, "%s\nprintf '\\n%s %%d\\n' $?\n", block, doneMarker)
	var out strings.Builder
	deadline := time.After(3 * time.Minute)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("the shell ended during this block (a command failed):\n%s\n--- output:\n%s", block, out.String())
			}
			if rest, ok := strings.CutPrefix(line, doneMarker+" "); ok {
				if rest != "0" {
					s.t.Fatalf("block exited %s:\n%s\n--- output:\n%s", rest, block, out.String())
				}
				return out.String()
			}
			out.WriteString(line + "\n")
		case <-deadline:
			s.t.Fatalf("block did not finish in 3 minutes:\n%s\n--- output so far:\n%s", block, out.String())
		}
	}
}

// waitReady polls the server's readiness until it answers 200.
func waitReady(t *testing.T, base, logFile string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "address already in use") {
			t.Fatalf("port taken: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(logFile)
	t.Fatalf("server not ready after 90s; log:\n%s", b)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestREADMEWalkthrough follows the README from a fresh directory: build,
// serve, the first administrator, a client, a token, inspect, revoke, the
// same with curl; then signs in to the console with the password the
// README's command printed, in headless Chromium; then restarts the server
// and checks that it says where the bootstrap credentials are.
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole README walkthrough")
	}
	blocks := walkthroughBlocks(t)
	if len(blocks) < 7 {
		t.Fatalf("only %d sh blocks in the walkthrough", len(blocks))
	}
	bin := filepath.Join(permisoBinary(t), "permiso")
	browser := browsertest.New(t)
	dir := t.TempDir()
	addr := freePort(t)
	base := "http://" + addr
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + os.TempDir(), "LANG=C.UTF-8",
		"PERMISO_ADDR=" + addr, "PERMISO_SERVER=" + base}
	sh := startShell(t, dir, env)

	var outputs []string
	served := false
	var serveStarted time.Time
	for _, block := range blocks {
		block = strings.ReplaceAll(block, readmeAddr, addr)
		var lines []string
		for _, line := range strings.Split(block, "\n") {
			switch strings.TrimSpace(line) {
			case readmeBuildLine:
				line = fmt.Sprintf("mkdir -p bin && cp %q bin/permiso", bin)
			case "permiso serve":
				line = "permiso serve >serve.log 2>&1 & SERVE_PID=$!"
				served, serveStarted = true, time.Now()
			}
			lines = append(lines, line)
		}
		out := sh.run(strings.Join(lines, "\n"))
		outputs = append(outputs, out)
		if served {
			waitReady(t, base, filepath.Join(dir, "serve.log"))
			served = false
		}
	}
	all := strings.Join(outputs, "\n")
	t.Logf("walkthrough output:\n%s", all)

	// What the README promises each step prints.
	serveLog, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
	for _, want := range []string{"client_secret: pms_", "permiso-data/bootstrap-admin.json"} {
		if !strings.Contains(string(serveLog), want) {
			t.Errorf("first start did not print %q:\n%s", want, serveLog)
		}
	}
	password := field(all, "password")
	for _, want := range []string{"created user alice", "roles:    admin", "client_", "signature:  valid (ES256 key",
		"active:     yes", "expiry:     in ", "revoked", "active:     NO", "refused, as it should be",
		`"access_token":"`, `{"active":false}`} {
		if !strings.Contains(all, want) {
			t.Errorf("the walkthrough did not print %q", want)
		}
	}
	if len(password) < 12 {
		t.Fatalf("no password printed by users create --admin: %q", password)
	}

	t.Run("console sign-in with the printed password", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(browser, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), "alice"), chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter),
			chromedp.WaitVisible(chromedp.ID("signed-in-user"))); err != nil {
			t.Fatalf("sign in: %v", err)
		}
		who, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("signed-in-user")))
		if err != nil || who != "alice" {
			t.Fatalf("signed in as %q (%v)", who, err)
		}
		t.Logf("from permiso serve to a signed-in console: %s (the walkthrough's commands, without a person's reading time)",
			time.Since(serveStarted).Round(100*time.Millisecond))
		// The overview counts the walkthrough's client among the service clients.
		page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil || !strings.Contains(page, "Service clients") {
			t.Errorf("overview: %q (%v)", page, err)
		}
	})

	t.Run("a later start says where the bootstrap credentials are", func(t *testing.T) {
		sh.run(`kill "$SERVE_PID"; wait "$SERVE_PID" || true
permiso serve >serve2.log 2>&1 & SERVE_PID=$!`)
		waitReady(t, base, filepath.Join(dir, "serve2.log"))
		b, _ := os.ReadFile(filepath.Join(dir, "serve2.log"))
		log := string(b)
		if !strings.Contains(log, "bootstrap admin credentials are in the data directory") ||
			!strings.Contains(log, "permiso-data/bootstrap-admin.json") || strings.Contains(log, "pms_") {
			t.Errorf("second start logged:\n%s", log)
		}
		sh.run(`kill "$SERVE_PID"; wait "$SERVE_PID" || true`)
	})
}

// TestSecretsFilesIgnored: the files the walkthrough and the examples
// write secrets to are ignored by git.
func TestSecretsFilesIgnored(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("git", "-C", root, "rev-parse", "--git-dir").Run(); err != nil {
		t.Skip("not a git checkout")
	}
	for _, p := range []string{"examples/trading/secrets.json", "examples/trading/deploy/secrets.json",
		"permiso-data/bootstrap-admin.json", "examples/fastapi/secrets.json", "bot.credentials.json"} {
		if err := exec.Command("git", "-C", root, "check-ignore", "-q", p).Run(); err != nil {
			t.Errorf("%s is not ignored by git", p)
		}
	}
}

// TestOneWayToBuild: every document builds the binary with the README's
// line and runs it as `permiso` (bin/ on PATH), never as ./permiso.
func TestOneWayToBuild(t *testing.T) {
	root := filepath.Join("..", "..")
	build := regexp.MustCompile(`go (build|install)[^\n` + "`" + `]*\./cmd/permiso\b`)
	dotSlash := regexp.MustCompile(`(^|[\s(` + "`" + `])\./permiso\s`)
	var docs []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			docs = append(docs, p)
		}
		return nil
	})
	if len(docs) < 5 {
		t.Fatalf("found only %d documents", len(docs))
	}
	for _, p := range docs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range build.FindAllString(string(b), -1) {
			if m != readmeBuildLine {
				t.Errorf("%s builds the binary with %q; use %q", p, m, readmeBuildLine)
			}
		}
		if dotSlash.Match(b) {
			t.Errorf("%s runs ./permiso; run `permiso` with bin/ on PATH", p)
		}
	}
}
