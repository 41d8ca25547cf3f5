package webhook

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/outbound"
)

// SecretPrefix starts every webhook secret, so secret scanners can tell
// them from client secrets (pms_).
const SecretPrefix = "pmw_"

// Headers of a delivery.
const (
	HeaderEvent     = "X-Permiso-Event"
	HeaderDelivery  = "X-Permiso-Delivery"
	HeaderTimestamp = "X-Permiso-Timestamp"
	HeaderSignature = "X-Permiso-Signature"
)

// MaxTimeout bounds one delivery, whatever a caller asks for.
const MaxTimeout = 10 * time.Second

// Config configures a [Sender].
type Config struct {
	// Key seals webhook secrets at rest: 32 bytes, derived from the master key.
	Key []byte
	// Outbound makes the calls; nil means outbound.New with its defaults
	// (no internal addresses) and no redirects.
	Outbound *outbound.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sender creates, seals and opens webhook secrets and delivers signed calls.
type Sender struct {
	gcm cipher.AEAD
	out *outbound.Client
	now func() time.Time
}

// New returns a Sender.
func New(cfg Config) (*Sender, error) {
	if len(cfg.Key) != 32 {
		return nil, errors.New("webhook: the sealing key must be 32 bytes")
	}
	block, err := aes.NewCipher(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	s := &Sender{gcm: gcm, out: cfg.Outbound, now: cfg.Now}
	if s.out == nil {
		s.out = outbound.New(outbound.Config{Timeout: MaxTimeout, MaxBodyBytes: 64 << 10, MaxRedirects: -1})
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// NewSecret returns a fresh secret for the client with clientUUID and its
// sealed form for the store.
func (s *Sender) NewSecret(clientUUID string) (secret string, sealed []byte) {
	var raw [32]byte
	rand.Read(raw[:])
	secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	nonce := make([]byte, s.gcm.NonceSize())
	rand.Read(nonce)
	return secret, s.gcm.Seal(nonce, nonce, []byte(secret), []byte(clientUUID))
}

// Open returns the secret sealed for clientUUID.
func (s *Sender) Open(clientUUID string, sealed []byte) (string, error) {
	n := s.gcm.NonceSize()
	if len(sealed) < n {
		return "", errors.New("webhook: sealed secret too short")
	}
	plain, err := s.gcm.Open(nil, sealed[:n], sealed[n:], []byte(clientUUID))
	if err != nil {
		return "", errors.New("webhook: the secret does not open with this master key")
	}
	return string(plain), nil
}

// Sign returns the X-Permiso-Signature value for body sent at timestamp.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify is what a receiver does: it checks signature against secret,
// timestamp and body in constant time, and refuses a timestamp further
// than tolerance from now (replays of old deliveries).
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook: bad timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook: timestamp outside the tolerance")
	}
	want := Sign(secret, ts, body)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(signature))) != 1 {
		return errors.New("webhook: bad signature")
	}
	return nil
}

// Delivery is one signed call.
type Delivery struct {
	URL     string
	Secret  string
	Event   string
	ID      string // X-Permiso-Delivery
	Body    []byte // JSON
	Timeout time.Duration
}

// Result is what a delivery tells the person who asked for it: the status
// and the time, never the receiver's body.
type Result struct {
	StatusCode int
	Duration   time.Duration
	Err        error // transport failure (see outbound.Describe); nil when an answer came
}

// Send delivers d and reads the answer to its end within the size cap.
func (s *Sender) Send(ctx context.Context, d Delivery) Result {
	timeout := d.Timeout
	if timeout <= 0 || timeout > MaxTimeout {
		timeout = MaxTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := s.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return Result{Err: fmt.Errorf("%w: %v", outbound.ErrURLNotUsable, err)}
	}
	ts := start.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Permiso-Webhook")
	req.Header.Set(HeaderEvent, d.Event)
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(d.Secret, ts, d.Body))
	res, err := s.out.Do(req)
	if err != nil {
		return Result{Duration: s.now().Sub(start), Err: err}
	}
	// Read to the end (within the cap) so the timing covers the whole
	// answer; what it says is not kept.
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return Result{StatusCode: res.StatusCode, Duration: s.now().Sub(start)}
}

// CheckURL says whether url may receive deliveries: an http(s) URL whose
// host, when it is a literal address, is not internal (names are checked
// again at every dial).
func (s *Sender) CheckURL(url string) error {
	_, err := s.out.CheckURL(url)
	return err
}
