package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"
)

// Describe turns an error from a [Client] into a short sentence that is
// safe to show the person who configured the URL: it names the kind of
// failure, never the resolved address, the remote's words or Permiso's
// internals.
func Describe(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		hostErr x509.HostnameError
		unkErr  x509.UnknownAuthorityError
		recErr  tls.RecordHeaderError
		netErr  net.Error
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrBlocked):
		return "the address is internal and not allowed"
	case errors.Is(err, ErrURLNotUsable):
		return "the URL cannot be used"
	case errors.Is(err, ErrTooLarge):
		return "the response was too large"
	case errors.Is(err, ErrRedirects):
		return "too many redirects"
	case errors.Is(err, ErrBadRedirect):
		return "redirected to a URL that is not allowed"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dnsErr):
		return "the host name could not be resolved"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &certErr), errors.As(err, &hostErr), errors.As(err, &unkErr):
		return "the TLS certificate was not accepted"
	case errors.As(err, &recErr):
		return "TLS failed (is it an http URL?)"
	}
	return "the request failed"
}
