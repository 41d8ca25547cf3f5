package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type ctxKey struct{}

// reqInfo is what the edge learns about a request; one context value for
// all of it, so the hot path pays one Request.WithContext.
type reqInfo struct{ id, ip string }

func info(ctx context.Context) reqInfo {
	i, _ := ctx.Value(ctxKey{}).(reqInfo)
	return i
}

// RequestID returns the request id that [RequestIDs] put in ctx.
func RequestID(ctx context.Context) string { return info(ctx).id }

// ClientIP returns the client address that [IPResolver.ClientIPs] put in ctx.
func ClientIP(ctx context.Context) string { return info(ctx).ip }

// WithClientIP returns ctx carrying ip (for tests and non-HTTP callers).
func WithClientIP(ctx context.Context, ip string) context.Context {
	i := info(ctx)
	i.ip = ip
	return context.WithValue(ctx, ctxKey{}, i)
}

// requestID is the caller's X-Request-ID when it is short and plain,
// otherwise a fresh random one.
func requestID(r *http.Request) string {
	id := r.Header.Get("X-Request-ID")
	if !plainID(id) {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return id
}

// RequestIDs gives each request an id (see requestID); it is echoed in
// the response.
func RequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := info(r.Context())
		i.id = requestID(r)
		w.Header()["X-Request-Id"] = []string{i.id}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, i)))
	})
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// IPResolver finds the client address of a request. X-Forwarded-For is
// believed only when the direct peer is a trusted proxy, and then the
// rightmost address that is not itself a trusted proxy wins, so a client
// cannot choose its own address by sending the header.
type IPResolver struct {
	TrustedProxies []netip.Prefix
}

// Resolve returns the client address of r.
func (p IPResolver) Resolve(r *http.Request) string {
	peer := peerAddr(r.RemoteAddr)
	if !p.trusted(peer) {
		return peer.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer.String()
			}
			a = a.Unmap()
			if !p.trusted(a) {
				return a.String()
			}
		}
	}
	return peer.String()
}

func (p IPResolver) trusted(a netip.Addr) bool {
	for _, pre := range p.TrustedProxies {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

// ClientIPs stores the resolved client address in the request context.
func (p IPResolver) ClientIPs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithClientIP(r.Context(), p.Resolve(r))))
	})
}

// Edge does what RequestIDs and ClientIPs do, in one step.
func (p IPResolver) Edge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := reqInfo{id: requestID(r), ip: p.Resolve(r)}
		w.Header()["X-Request-Id"] = []string{i.id}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, i)))
	})
}
