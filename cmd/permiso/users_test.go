package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// login tries the original's password login and returns the status.
func login(t *testing.T, s *cliServer, username, password string) int {
	t.Helper()
	res, err := http.PostForm(s.URL+"/api/v1/auth/token", url.Values{"username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestUsersCommands(t *testing.T) {
	s := newCLIServer(t)
	users := func(stdin string, args ...string) cliResult {
		t.Helper()
		return runCLI(t, runUsers(strings.NewReader(stdin)), args...)
	}

	created := users("", "create", "--admin", "--username", "Alice", "--email", "alice@example.com").ok(t, "created user alice", "roles:    admin")
	alicePW := field(created.Stdout, "password")
	if len(alicePW) != 20 {
		t.Fatalf("generated password %q in %s", alicePW, created.Stdout)
	}
	if !strings.Contains(created.Stderr, "not shown again") || !strings.Contains(created.Stderr, s.URL+"/admin/") {
		t.Errorf("stderr %q lacks the warning or the console address", created.Stderr)
	}
	if got := login(t, s, "alice", alicePW); got != http.StatusOK {
		t.Fatalf("login with the generated password: %d", got)
	}

	steps := []struct {
		name  string
		stdin string
		args  []string
		want  []string // in stdout on success
		fail  []string // in stderr or the error when the command must fail
	}{
		{name: "own password, roles by space", stdin: "Correct-Horse-42!\n",
			args: []string{"create", "--username", "bob", "--email", "bob@example.com", "--roles", "user trader", "--password-stdin"},
			want: []string{"created user bob", "roles:    "}},
		{name: "weak password", stdin: "short\n",
			args: []string{"create", "--username", "carol", "--email", "carol@example.com", "--password-stdin"},
			fail: []string{"validation_error: ", "password"}},
		// docs/migrating.md: passwords the original's endpoints accepted and Permiso refuses.
		{name: "password containing the username", stdin: "carol-Secret1!\n",
			args: []string{"create", "--username", "carol", "--email", "carol@example.com", "--password-stdin"},
			fail: []string{"validation_error: ", "must not contain the username"}},
		{name: "password with a common pattern", stdin: "Password123!\n",
			args: []string{"create", "--username", "carol", "--email", "carol@example.com", "--password-stdin"},
			fail: []string{"validation_error: ", "common patterns"}},
		{name: "empty stdin", args: []string{"create", "--username", "carol", "--email", "carol@example.com", "--password-stdin"},
			fail: []string{"held no password"}},
		{name: "email required", args: []string{"create", "--username", "carol"}, fail: []string{"--username and --email are required"}},
		{name: "duplicate", args: []string{"create", "--username", "alice", "--email", "other@example.com"}, fail: []string{"conflict: "}},
		{name: "unknown role", args: []string{"create", "--username", "dave", "--email", "dave@example.com", "--roles", "wizard"},
			fail: []string{"validation_error: ", "wizard"}},
		{name: "list", args: []string{"list"}, want: []string{"USERNAME", "alice", "bob", "admin", "active"}},
		{name: "list by role", args: []string{"list", "--role", "trader"}, want: []string{"bob"}},
		{name: "show by username", args: []string{"show", "ALICE"}, want: []string{"alice@example.com", "admin:users"}},
		{name: "show by email", args: []string{"show", "bob@example.com"}, want: []string{"trader"}},
		{name: "show unknown", args: []string{"show", "zed"}, fail: []string{`no user with id, username or email "zed"`}},
		{name: "show needs a user", args: []string{"show"}, fail: []string{"expected 1 argument, got 0"}},
		{name: "set roles by comma", args: []string{"set-roles", "bob", "--roles", "user,trader"}, want: []string{"roles of bob: "}},
		{name: "remove every role", args: []string{"set-roles", "bob", "--roles", ""}, want: []string{"roles of bob: -"}},
		{name: "roles of another administrator", args: []string{"set-roles", "alice", "--roles", "user"}, want: []string{"roles of alice: user"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := users(st.stdin, st.args...)
			if st.fail != nil {
				r.fails(t, st.fail...)
				return
			}
			r.ok(t, st.want...)
		})
	}
	if got := login(t, s, "bob", "Correct-Horse-42!"); got != http.StatusOK {
		t.Fatalf("login with the password from stdin: %d", got)
	}

	t.Run("show by id, as JSON", func(t *testing.T) {
		r := users("", "show", "bob", "--json").ok(t)
		var u struct{ ID string }
		json.Unmarshal([]byte(r.Stdout), &u)
		r = users("", "show", u.ID, "--json").ok(t, `"username": "bob"`)
	})
	t.Run("disable and enable", func(t *testing.T) {
		users("", "disable", "bob").ok(t, "disabled user bob")
		users("", "show", "bob").ok(t, "disabled")
		users("", "list", "--disabled").ok(t, "bob")
		if got := login(t, s, "bob", "Correct-Horse-42!"); got != http.StatusForbidden {
			t.Errorf("disabled user logged in: %d", got)
		}
		users("", "enable", "bob").ok(t, "enabled user bob")
		if got := login(t, s, "bob", "Correct-Horse-42!"); got != http.StatusOK {
			t.Errorf("enabled user: %d", got)
		}
	})
	t.Run("unlock", func(t *testing.T) {
		for range 5 {
			login(t, s, "bob", "wrong-Password-1!")
		}
		if got := login(t, s, "bob", "Correct-Horse-42!"); got != http.StatusLocked {
			t.Fatalf("after 5 failures: %d, want 423", got)
		}
		users("", "show", "bob").ok(t, "locked from 127.0.0.1 until")
		users("", "unlock", "bob").ok(t, "unlocked user bob")
		if got := login(t, s, "bob", "Correct-Horse-42!"); got != http.StatusOK {
			t.Errorf("after unlock: %d", got)
		}
	})
	t.Run("reset-password", func(t *testing.T) {
		r := users("", "reset-password", "bob").ok(t, "new password for bob")
		pw := field(r.Stdout, "password")
		if got := login(t, s, "bob", "Correct-Horse-42!"); got != http.StatusUnauthorized {
			t.Errorf("old password after reset: %d", got)
		}
		if got := login(t, s, "bob", pw); got != http.StatusOK {
			t.Errorf("new password: %d", got)
		}
		users("Another-Pass-77?\n", "reset-password", "bob", "--password-stdin").ok(t, "new password for bob")
		if got := login(t, s, "bob", "Another-Pass-77?"); got != http.StatusOK {
			t.Errorf("password from stdin: %d", got)
		}
		r = users("", "reset-password", "bob", "--json").ok(t)
		var out struct {
			User     struct{ Username string }
			Password *string
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.Password == nil || out.User.Username != "bob" {
			t.Errorf("--json: %v %s", err, r.Stdout)
		}
	})
	t.Run("create --json", func(t *testing.T) {
		r := users("", "create", "--username", "erin", "--email", "erin@example.com", "--verified", "--json").ok(t)
		var out struct {
			User struct {
				ID         string `json:"id"`
				IsVerified bool   `json:"is_verified"`
			} `json:"user"`
			Password string `json:"password"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.User.ID == "" || !out.User.IsVerified || out.Password == "" {
			t.Fatalf("--json: %v %s", err, r.Stdout)
		}
	})
	t.Run("delete", func(t *testing.T) {
		users("", "delete", "erin").ok(t, "deleted user erin")
		users("", "show", "erin").fails(t, "no user with")
	})
	t.Run("a client without admin:users is refused", func(t *testing.T) {
		c := runCLI(t, runClients, "create", "--name", "Reader", "--id", "reader", "--scopes", "admin:roles").ok(t)
		t.Setenv("PERMISO_CREDENTIALS_FILE", "")
		t.Setenv("PERMISO_CLIENT_ID", "reader")
		t.Setenv("PERMISO_CLIENT_SECRET", field(c.Stdout, "client_secret"))
		users("", "list").fails(t, "insufficient_scope: ", "admin:users")
	})
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		p := generatePassword()
		if len(p) != 20 || seen[p] {
			t.Fatalf("password %q (len %d, repeated %v)", p, len(p), seen[p])
		}
		seen[p] = true
		var up, low, dig, sp bool
		for _, r := range p {
			switch {
			case unicode.IsUpper(r):
				up = true
			case unicode.IsLower(r):
				low = true
			case unicode.IsDigit(r):
				dig = true
			case strings.ContainsRune(`!@#$%^&*(),.?":{}|<>`, r):
				sp = true
			default:
				t.Fatalf("character %q outside the policy's classes in %q", r, p)
			}
		}
		if !up || !low || !dig || !sp {
			t.Fatalf("password %q lacks a class", p)
		}
	}
}
