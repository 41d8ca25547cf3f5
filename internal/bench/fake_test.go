package bench

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// fakePermiso is a stand-in for the server: enough of the admin API, the
// token endpoint (the reference handler, for the admin and for each
// client created), introspection, JWKS and metadata. Users are not there,
// so password and refresh are unavailable, as on an early server.
type fakePermiso struct {
	mu      sync.Mutex
	clients map[string]*Reference // client_id -> its token endpoint
	admin   *Reference
	n       int
	// With users set, it also registers users and answers the password
	// and refresh_token grants, rotating refresh tokens: each is good once.
	users   map[string]string // username -> password
	refresh map[string]bool   // refresh tokens not yet used
	reused  int               // refresh tokens presented twice
}

const fakeAdminID, fakeAdminSecret = "admin-client", "pms_admin-secret"

func newFakePermiso() (*fakePermiso, error) {
	admin, err := NewReference(ReferenceConfig{ClientID: fakeAdminID, Secret: fakeAdminSecret})
	if err != nil {
		return nil, err
	}
	return &fakePermiso{clients: map[string]*Reference{}, admin: admin}, nil
}

func (f *fakePermiso) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /healthz":
		fmt.Fprint(w, `{"status":"ok"}`)
	case "GET /.well-known/jwks.json":
		fmt.Fprint(w, `{"keys":[]}`)
	case "GET /.well-known/oauth-authorization-server":
		fmt.Fprint(w, `{"issuer":"http://fake"}`)
	case "POST /oauth2/introspect":
		if _, _, ok := r.BasicAuth(); !ok || r.FormValue("token") == "" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"active": true}`)
	case "POST /api/v1/users/register":
		f.register(w, r)
	case "POST /oauth2/token":
		r.ParseForm()
		if g := r.PostForm.Get("grant_type"); f.users != nil && (g == "password" || g == "refresh_token") {
			f.userGrant(w, r)
			return
		}
		id, _, ok := r.BasicAuth()
		if !ok {
			r.ParseForm()
			id = r.PostForm.Get("client_id")
		}
		f.mu.Lock()
		h := f.clients[id]
		f.mu.Unlock()
		if id == fakeAdminID {
			h = f.admin
		}
		if h == nil {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	case "POST /api/v1/service-clients":
		if r.Header.Get("Authorization") == "" {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		var body struct {
			Name string `json:"name"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.n++
		id, secret := fmt.Sprintf("client-%d", f.n), fmt.Sprintf("pms_secret-%d", f.n)
		h, err := NewReference(ReferenceConfig{ClientID: id, Secret: secret})
		f.clients[id] = h
		f.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"client": map[string]string{"client_id": id, "name": body.Name}, "client_secret": secret})
	default:
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
	}
}

func (f *fakePermiso) register(w http.ResponseWriter, r *http.Request) {
	var body struct{ Username, Email, Password string }
	json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users == nil {
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
		return
	}
	if body.Username == "" || body.Password == "" || f.users[body.Username] != "" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	f.users[body.Username] = body.Password
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"username":%q}`, body.Username)
}

func (f *fakePermiso) userGrant(w http.ResponseWriter, r *http.Request) {
	id, _, _ := r.BasicAuth()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clients[id] == nil {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "password":
		if pw := f.users[r.PostForm.Get("username")]; pw == "" || pw != r.PostForm.Get("password") {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if !f.refresh[rt] {
			f.reused++
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		delete(f.refresh, rt)
	}
	f.n++
	rt := fmt.Sprintf("rt-%d", f.n)
	f.refresh[rt] = true
	fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","refresh_token":%q}`, f.n, rt)
}

// TestMain lets the test binary play `permiso serve` for the tests that
// start a server: with BENCH_FAKE_SERVE=1 it serves fakePermiso on --addr
// and writes the bootstrap credentials to --data-dir.
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_FAKE_SERVE") == "1" {
		os.Exit(fakeServe(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeServe(args []string) int {
	if len(args) == 0 || args[0] != "serve" {
		fmt.Fprintln(os.Stderr, "fake: want serve")
		return 2
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("data-dir", "", "")
	addr := fs.String("addr", "", "")
	fail := fs.Bool("fail", false, "exit at once")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *fail {
		fmt.Fprintln(os.Stderr, "fake: failing as asked")
		return 1
	}
	os.MkdirAll(*dir, 0o700)
	creds, _ := json.Marshal(map[string]string{"client_id": fakeAdminID, "client_secret": fakeAdminSecret})
	if err := os.WriteFile(filepath.Join(*dir, "bootstrap-admin.json"), creds, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	f, err := newFakePermiso()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(l)
	select {} // until killed
}
