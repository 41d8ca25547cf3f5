package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/outbound"
)

func newSender(t *testing.T, out *outbound.Client) *Sender {
	t.Helper()
	s, err := New(Config{Key: bytes.Repeat([]byte{7}, 32), Outbound: out})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSignKnownVector pins the signature to an independent computation:
// printf '%s' '1700000000.{"event":"webhook.test"}' | openssl dgst -sha256 -hmac pmw_test-secret
func TestSignKnownVector(t *testing.T) {
	got := Sign("pmw_test-secret", 1700000000, []byte(`{"event":"webhook.test"}`))
	if want := "sha256=9cd27190138018ec6091afda45581967bacd319f3c124bef081da2aaefd89110"; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"a":1}`)
	sig := Sign("pmw_s", now.Unix(), body)
	tests := []struct {
		name, secret, ts, sig string
		body                  []byte
		at                    time.Time
		ok                    bool
	}{
		{"genuine", "pmw_s", "1700000000", sig, body, now, true},
		{"within tolerance", "pmw_s", "1700000000", sig, body, now.Add(4 * time.Minute), true},
		{"too old", "pmw_s", "1700000000", sig, body, now.Add(6 * time.Minute), false},
		{"wrong secret", "pmw_x", "1700000000", sig, body, now, false},
		{"body changed", "pmw_s", "1700000000", sig, []byte(`{"a":2}`), now, false},
		{"timestamp changed", "pmw_s", "1700000001", sig, body, now, false},
		{"bad timestamp", "pmw_s", "soon", sig, body, now, false},
	}
	for _, tt := range tests {
		err := Verify(tt.secret, tt.ts, tt.sig, tt.body, tt.at, 5*time.Minute)
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestSecretsSealAndOpen(t *testing.T) {
	s := newSender(t, nil)
	secret, sealed := s.NewSecret("client-uuid-1")
	other, _ := s.NewSecret("client-uuid-1")
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != len(SecretPrefix)+43 || secret == other {
		t.Fatalf("secrets %q %q", secret, other)
	}
	if bytes.Contains(sealed, []byte(secret[len(SecretPrefix):])) {
		t.Fatal("sealed form holds the secret")
	}
	if got, err := s.Open("client-uuid-1", sealed); err != nil || got != secret {
		t.Fatalf("Open: %q %v", got, err)
	}
	if _, err := s.Open("client-uuid-2", sealed); err == nil {
		t.Error("a sealed secret opened for another client")
	}
	otherKey, _ := New(Config{Key: bytes.Repeat([]byte{8}, 32)})
	if _, err := otherKey.Open("client-uuid-1", sealed); err == nil {
		t.Error("a sealed secret opened with another key")
	}
	if _, err := s.Open("client-uuid-1", sealed[:5]); err == nil {
		t.Error("a truncated value opened")
	}
	if _, err := New(Config{Key: []byte("short")}); err == nil {
		t.Error("a short key was accepted")
	}
}

func TestSend(t *testing.T) {
	const secret = "pmw_receiver-secret"
	type got struct {
		header http.Header
		body   []byte
	}
	received := make(chan got, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		received <- got{r.Header.Clone(), b}
		if err := Verify(secret, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), b, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, strings.Repeat("a long answer that is never returned ", 10000))
	}))
	t.Cleanup(receiver.Close)
	moved := httptest.NewServer(http.RedirectHandler(receiver.URL, http.StatusTemporaryRedirect))
	t.Cleanup(moved.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices the client leaving
		<-r.Context().Done()
	}))
	t.Cleanup(slow.Close)

	allowed := newSender(t, outbound.New(outbound.Config{Allow: outbound.Loopback, MaxRedirects: -1, MaxBodyBytes: 4096}))
	d := Delivery{URL: receiver.URL + "/hook", Secret: secret, Event: "webhook.test", ID: "d-1", Body: []byte(`{"event":"webhook.test"}`)}

	res := allowed.Send(context.Background(), d)
	if res.Err != nil || res.StatusCode != http.StatusAccepted || res.Duration <= 0 {
		t.Fatalf("delivery: %+v", res)
	}
	g := <-received
	if g.header.Get(HeaderEvent) != "webhook.test" || g.header.Get(HeaderDelivery) != "d-1" ||
		g.header.Get("Content-Type") != "application/json" || string(g.body) != string(d.Body) {
		t.Errorf("receiver got %v %s", g.header, g.body)
	}

	wrong := d
	wrong.Secret = "pmw_another"
	if res := allowed.Send(context.Background(), wrong); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed with another secret: %+v", res)
	}
	<-received

	redirected := d
	redirected.URL = moved.URL
	if res := allowed.Send(context.Background(), redirected); res.Err != nil || res.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("redirect was followed: %+v", res)
	}

	late := d
	late.URL, late.Timeout = slow.URL, 100*time.Millisecond
	if res := allowed.Send(context.Background(), late); res.Err == nil || outbound.Describe(res.Err) != "timed out" {
		t.Errorf("slow receiver: %+v", res)
	}

	// By default internal addresses are refused before any byte is sent.
	res = newSender(t, nil).Send(context.Background(), d)
	if !errors.Is(res.Err, outbound.ErrBlocked) {
		t.Errorf("loopback without allowing it: %+v", res)
	}
	select {
	case g := <-received:
		t.Errorf("a refused delivery reached the receiver: %v", g.header)
	default:
	}
}
