package grpcguard

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Metadata keys of DPoP on gRPC: the proof travels in "dpop" (RFC 9449's
// DPoP header), a nonce comes back in the "dpop-nonce" header metadata.
const (
	MetadataProof = "dpop"
	MetadataNonce = "dpop-nonce"
)

// UnaryServerInterceptor returns an interceptor that lets a unary call
// through only with a valid token meeting every requirement, presented as
// its binding demands (see [guard.Guard.Authorize]).
func UnaryServerInterceptor(g *guard.Guard, reqs ...guard.Requirement) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authorize(ctx, g, info.FullMethod, reqs, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) })
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns an interceptor that lets a stream through
// only with a valid token meeting every requirement, presented as its
// binding demands.
func StreamServerInterceptor(g *guard.Guard, reqs ...guard.Requirement) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authorize(ss.Context(), g, info.FullMethod, reqs, ss.SetHeader)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

// stream overrides the context of a server stream.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// authorize verifies the call's token and its binding, and returns a
// context carrying its claims, or a status error. A DPoP proof is checked
// with htm POST and htu https://{:authority}{full method} (or the guard's
// ExternalURL followed by the full method).
func authorize(ctx context.Context, g *guard.Guard, fullMethod string, reqs []guard.Requirement, setHeader func(metadata.MD) error) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	req := guard.Request{Method: "POST", DPoP: md.Get(MetadataProof), URI: g.ExternalURI(fullMethod)}
	for _, v := range md.Get("authorization") {
		if scheme, _, ok := strings.Cut(v, " "); ok && (strings.EqualFold(scheme, wire.TokenTypeBearer) || strings.EqualFold(scheme, wire.TokenTypeDPoP)) {
			req.Authorization = v
			break
		}
	}
	if req.URI == "" {
		if a := md.Get(":authority"); len(a) == 1 {
			req.URI = "https://" + a[0] + fullMethod
		}
	}
	req.Certificate = func() *x509.Certificate { return certificate(ctx, g, md) }
	c, b, err := g.Authorize(ctx, &req)
	_, raw, _ := strings.Cut(req.Authorization, " ")
	switch {
	case errors.Is(err, guard.ErrNoToken):
		return nil, status.Error(codes.Unauthenticated, "bearer token required")
	case errors.Is(err, guard.ErrUnavailable):
		return nil, status.Error(codes.Unavailable, "token verification is temporarily unavailable")
	case errors.Is(err, guard.ErrUseNonce):
		_ = setHeader(metadata.Pairs(MetadataNonce, g.DPoPNonce()))
		return nil, status.Error(codes.Unauthenticated, wire.ErrUseDPoPNonce+": the DPoP proof must carry the nonce of the dpop-nonce metadata")
	case errors.Is(err, guard.ErrInvalidProof):
		return nil, status.Error(codes.Unauthenticated, wire.ErrInvalidDPoPProof+": "+guard.ProofErrorDescription(err))
	case err != nil:
		return nil, status.Error(codes.Unauthenticated, "invalid_token")
	}
	if err := guard.Check(c, reqs...); err != nil {
		var d *guard.Denial
		if errors.As(err, &d) {
			return nil, status.Error(codes.PermissionDenied, d.Code+": "+d.Description)
		}
		return nil, status.Error(codes.PermissionDenied, "permission denied")
	}
	if n := g.DPoPNonce(); n != "" && b == guard.DPoP {
		_ = setHeader(metadata.Pairs(MetadataNonce, n))
	}
	return guard.WithBinding(ctx, c, strings.TrimSpace(raw), b), nil
}

// certificate returns the call's client certificate: from the TLS
// connection, else from the forwarded header when the peer is a trusted
// proxy.
func certificate(ctx context.Context, g *guard.Guard, md metadata.MD) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		return ti.State.PeerCertificates[0]
	}
	h := g.ClientCertificateHeader()
	if h == "" {
		return nil
	}
	values := md.Get(strings.ToLower(h))
	if len(values) == 0 {
		return nil
	}
	addr, ok := p.Addr.(*net.TCPAddr)
	if !ok {
		return nil
	}
	a, ok := netip.AddrFromSlice(addr.IP)
	if !ok {
		return nil
	}
	return g.ForwardedCertificate(values, a)
}
