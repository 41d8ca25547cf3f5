package outbound

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve starts an HTTP server on addr ("127.0.0.1:0", "127.0.0.2:0").
func serve(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

func ok(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
}

func redirectTo(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) })
}

func TestClientRequests(t *testing.T) {
	only1 := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	public := serve(t, "127.0.0.1:0", ok("hello"))
	other := serve(t, "127.0.0.2:0", ok("internal")) // stands for an internal address
	big := serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2000)))
	}))
	announced := serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5000")
		w.Write([]byte(strings.Repeat("x", 5000)))
	}))
	toOther := serve(t, "127.0.0.1:0", redirectTo(other.URL))
	toPublic := serve(t, "127.0.0.1:0", redirectTo(public.URL))
	var hops atomic.Int32
	var loop *httptest.Server
	loop = serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hops.Add(1)
		http.Redirect(w, r, loop.URL+"/again", http.StatusFound)
	}))
	toFile := serve(t, "127.0.0.1:0", redirectTo("file:///etc/passwd"))
	slow := serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the client gives up
	}))
	localhostURL := strings.Replace(public.URL, "127.0.0.1", "localhost", 1)

	tests := []struct {
		name   string
		cfg    Config
		url    string
		body   string // want this body, or
		err    error  // this error
		reason string // and, for ErrBlocked, this reason
	}{
		{name: "loopback refused by default", url: public.URL, err: ErrBlocked, reason: "loopback"},
		{name: "a name resolving to loopback is refused at dial time", url: localhostURL, err: ErrBlocked},
		{name: "allowed prefix", cfg: Config{Allow: Loopback}, url: public.URL, body: "hello"},
		{name: "literal address outside the allowed prefix", cfg: Config{Allow: only1}, url: other.URL, err: ErrBlocked},
		{name: "redirect to a refused address", cfg: Config{Allow: only1}, url: toOther.URL, err: ErrBlocked},
		{name: "redirect to an allowed address", cfg: Config{Allow: only1}, url: toPublic.URL, body: "hello"},
		{name: "redirect loop is cut", cfg: Config{Allow: only1, MaxRedirects: 2}, url: loop.URL, err: ErrRedirects},
		{name: "redirect to another scheme", cfg: Config{Allow: only1}, url: toFile.URL, err: ErrBadRedirect},
		{name: "body over the cap", cfg: Config{Allow: only1, MaxBodyBytes: 1000}, url: big.URL, err: ErrTooLarge},
		{name: "body at the cap", cfg: Config{Allow: only1, MaxBodyBytes: 2000}, url: big.URL, body: strings.Repeat("x", 2000)},
		{name: "announced length over the cap", cfg: Config{Allow: only1, MaxBodyBytes: 1000}, url: announced.URL, err: ErrTooLarge},
		{name: "time limit", cfg: Config{Allow: only1, Timeout: 200 * time.Millisecond}, url: slow.URL, err: context.DeadlineExceeded},
		{name: "userinfo refused", cfg: Config{Allow: only1}, url: strings.Replace(public.URL, "http://", "http://u:p@", 1), err: ErrURLNotUsable},
		{name: "scheme refused", url: "ftp://example.com/x", err: ErrURLNotUsable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body, err := New(tt.cfg).Get(context.Background(), tt.url)
			if tt.err == nil {
				if err != nil || string(body) != tt.body {
					t.Fatalf("Get: %q, %v; want %q", body, err, tt.body)
				}
				return
			}
			if tt.err == context.DeadlineExceeded {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("Get: %v, want a timeout", err)
				}
				if Describe(err) != "timed out" {
					t.Errorf("Describe: %q", Describe(err))
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("Get: %q, %v; want %v", body, err, tt.err)
			}
			var be *BlockedError
			if tt.reason != "" && (!errors.As(err, &be) || be.Reason != tt.reason) {
				t.Errorf("reason of %v, want %q", err, tt.reason)
			}
			if d := Describe(err); d == "" || d == "the request failed" || strings.Contains(d, "127.0.0") {
				t.Errorf("Describe(%v) = %q", err, d)
			}
		})
	}
	if hops.Load() > 3 {
		t.Errorf("redirect loop followed %d times", hops.Load())
	}
}

func TestNoProxyFromEnvironment(t *testing.T) {
	var proxied atomic.Bool
	proxy := serve(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Store(true)
		io.WriteString(w, "via proxy")
	}))
	target := serve(t, "127.0.0.1:0", ok("direct"))
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	_, body, err := New(Config{Allow: Loopback}).Get(context.Background(), target.URL)
	if err != nil || string(body) != "direct" || proxied.Load() {
		t.Fatalf("body %q err %v proxied %v", body, err, proxied.Load())
	}
}

func TestHTTPSDowngradeRefused(t *testing.T) {
	plain := serve(t, "127.0.0.1:0", ok("plain"))
	secure := httptest.NewTLSServer(redirectTo(plain.URL))
	t.Cleanup(secure.Close)
	tlsConf := secure.Client().Transport.(*http.Transport).TLSClientConfig
	c := New(Config{Allow: Loopback, TLS: tlsConf})
	if _, _, err := c.Get(context.Background(), secure.URL); !errors.Is(err, ErrBadRedirect) {
		t.Fatalf("https→http redirect: %v", err)
	}
	same := httptest.NewTLSServer(ok("secure"))
	t.Cleanup(same.Close)
	c = New(Config{Allow: Loopback, TLS: same.Client().Transport.(*http.Transport).TLSClientConfig})
	if _, body, err := c.Get(context.Background(), same.URL); err != nil || string(body) != "secure" {
		t.Fatalf("https: %q %v", body, err)
	}
	// Without the test CA the certificate is refused, and said so.
	_, _, err := New(Config{Allow: Loopback}).Get(context.Background(), same.URL)
	if d := Describe(err); d != "the TLS certificate was not accepted" {
		t.Errorf("unknown CA: %v → %q", err, d)
	}
}

// TestHTTPClientHasTheSameRules: code that takes HTTPClient() (a JWKS
// fetcher, an OAuth library) gets every rule Do applies.
func TestHTTPClientHasTheSameRules(t *testing.T) {
	target := serve(t, "127.0.0.1:0", ok("hello"))
	hc := New(Config{}).HTTPClient()
	if _, err := hc.Get(target.URL); !errors.Is(err, ErrBlocked) {
		t.Errorf("loopback through HTTPClient: %v", err)
	}
	hc = New(Config{Allow: Loopback}).HTTPClient()
	withUser := strings.Replace(target.URL, "http://", "http://user:pw@", 1)
	if _, err := hc.Get(withUser); !errors.Is(err, ErrURLNotUsable) {
		t.Errorf("userinfo through HTTPClient: %v", err)
	}
	res, err := hc.Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

func TestNoRedirectsFollowed(t *testing.T) {
	target := serve(t, "127.0.0.1:0", ok("moved"))
	from := serve(t, "127.0.0.1:0", redirectTo(target.URL))
	res, _, err := New(Config{Allow: Loopback, MaxRedirects: -1}).Get(context.Background(), from.URL)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("MaxRedirects -1: %v %v", res, err)
	}
}

func TestCheckURL(t *testing.T) {
	c := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	tests := []struct {
		url string
		err error
	}{
		{"https://hooks.example.com/permiso", nil},
		{"http://hooks.example.com:8080/p?q=1", nil},
		{"https://10.1.2.3/hook", nil}, // allowed prefix
		{"https://[2606:4700::1]/hook", nil},
		{"https://127.0.0.1/hook", ErrBlocked},
		{"https://[::1]/hook", ErrBlocked},
		{"https://169.254.169.254/latest/meta-data", ErrBlocked},
		{"https://[fe80::1%25eth0]/hook", ErrURLNotUsable},
		{"ftp://hooks.example.com/", ErrURLNotUsable},
		{"hooks.example.com/x", ErrURLNotUsable},
		{"https://user:pw@hooks.example.com/", ErrURLNotUsable},
		{"https:///path", ErrURLNotUsable},
		{"https://hooks.example.com/#frag", ErrURLNotUsable},
		{"mailto:a@example.com", ErrURLNotUsable},
		{"https://hooks.example.com/" + strings.Repeat("a", 3000), ErrURLNotUsable},
		{"%zz", ErrURLNotUsable},
	}
	for _, tt := range tests {
		_, err := c.CheckURL(tt.url)
		if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("CheckURL(%.60q) = %v, want %v", tt.url, err, tt.err)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&BlockedError{Reason: "loopback"}, "the address is internal and not allowed"},
		{ErrTooLarge, "the response was too large"},
		{context.Canceled, "canceled"},
		{&net.DNSError{Err: "no such host", Name: "x.invalid"}, "the host name could not be resolved"},
		{errors.New("secret internal detail"), "the request failed"},
	}
	for _, tt := range tests {
		if got := Describe(tt.err); got != tt.want {
			t.Errorf("Describe(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, _, err = New(Config{Allow: Loopback}).Get(context.Background(), "http://"+addr+"/")
	if Describe(err) != "connection refused" {
		t.Errorf("closed port: %v → %q", err, Describe(err))
	}
}
