package grpcguard

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/permiso-auth/permiso/sdk/guard"
)

// UnaryServerInterceptor returns an interceptor that lets a unary call
// through only with a valid token meeting every requirement.
func UnaryServerInterceptor(g *guard.Guard, reqs ...guard.Requirement) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authorize(ctx, g, reqs)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns an interceptor that lets a stream through
// only with a valid token meeting every requirement.
func StreamServerInterceptor(g *guard.Guard, reqs ...guard.Requirement) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authorize(ss.Context(), g, reqs)
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

// authorize verifies the call's token and returns a context carrying its
// claims, or a status error.
func authorize(ctx context.Context, g *guard.Guard, reqs []guard.Requirement) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	var raw string
	ok := false
	for _, v := range md.Get("authorization") {
		if raw, ok = guard.BearerToken(v); ok {
			break
		}
	}
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "bearer token required")
	}
	c, err := g.Verify(ctx, raw)
	switch {
	case errors.Is(err, guard.ErrUnavailable):
		return nil, status.Error(codes.Unavailable, "token verification is temporarily unavailable")
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
	return guard.WithToken(ctx, c, raw), nil
}
