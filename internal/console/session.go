package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Cookie names. Both are scoped to /admin and HttpOnly: scripts never see
// them, and no other path of the server receives them.
const (
	sessionCookie = "permiso_console"
	pendingCookie = "permiso_console_signin"
)

// Limits on what the console keeps in memory.
const (
	maxSessions    = 10000
	maxPending     = 10000
	pendingTimeout = 10 * time.Minute
)

// session is a signed-in administrator. The tokens never leave the server.
type session struct {
	id      string
	csrf    string
	created time.Time

	mu       sync.Mutex // guards everything below; held across a refresh
	access   string
	refresh  string
	expires  time.Time // of the access token
	idleEnd  time.Time
	subject  string
	username string
	scopes   []string
	flash    *flash
}

// flash is a one-shot message shown on the next page.
type flash struct {
	Kind    string // "ok" or "error"
	Message string
	Secret  string // a newly issued client secret, shown once
	Client  string // the client the secret belongs to
	// Label, when set, names Secret instead (a tenant administrator's
	// setup token).
	Label string
}

// pending is a sign-in in progress: the PKCE verifier and where to return.
type pending struct {
	verifier string
	returnTo string
	created  time.Time
}

// sessions is the in-memory session table.
type sessions struct {
	now  func() time.Time
	idle time.Duration

	mu      sync.Mutex
	byID    map[string]*session
	pending map[string]pending // by state
}

func newSessions(now func() time.Time, idle time.Duration) *sessions {
	return &sessions{now: now, idle: idle, byID: map[string]*session{}, pending: map[string]pending{}}
}

// randomToken returns n random bytes, base64url encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create stores a new session. When the table is full the session that
// has been idle longest is dropped, so memory stays bounded.
func (s *sessions) create(sess *session) {
	now := s.now()
	sess.id, sess.csrf, sess.created = randomToken(32), randomToken(32), now
	sess.idleEnd = now.Add(s.idle)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	if len(s.byID) >= maxSessions {
		var oldest *session
		for _, c := range s.byID {
			if oldest == nil || c.idleEnd.Before(oldest.idleEnd) {
				oldest = c
			}
		}
		delete(s.byID, oldest.id)
	}
	s.byID[sess.id] = sess
}

// get returns the live session named by the request's cookie.
func (s *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > 64 {
		return nil
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[c.Value]
	if sess == nil {
		return nil
	}
	if now.After(sess.idleEnd) {
		delete(s.byID, sess.id)
		return nil
	}
	sess.idleEnd = now.Add(s.idle)
	return sess
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// sweepLocked drops idle sessions and abandoned sign-ins.
func (s *sessions) sweepLocked(now time.Time) {
	for id, sess := range s.byID {
		if now.After(sess.idleEnd) {
			delete(s.byID, id)
		}
	}
	for st, p := range s.pending {
		if now.Sub(p.created) > pendingTimeout {
			delete(s.pending, st)
		}
	}
}

// begin records a sign-in and returns its state.
func (s *sessions) begin(verifier, returnTo string) string {
	state := randomToken(24)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	if len(s.pending) >= maxPending {
		clear(s.pending) // a flood of abandoned sign-ins; real users retry
	}
	s.pending[state] = pending{verifier: verifier, returnTo: returnTo, created: now}
	return state
}

// finish takes the sign-in for state, once.
func (s *sessions) finish(state string) (pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[state]
	delete(s.pending, state)
	if !ok || s.now().Sub(p.created) > pendingTimeout {
		return pending{}, false
	}
	return p, true
}

// checkCSRF compares the form's token with the session's in constant time.
func (sess *session) checkCSRF(r *http.Request) bool {
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) == 1
}

// takeFlash returns and clears the session's flash.
func (sess *session) takeFlash() *flash {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	f := sess.flash
	sess.flash = nil
	return f
}

func (sess *session) setFlash(f *flash) {
	sess.mu.Lock()
	sess.flash = f
	sess.mu.Unlock()
}
