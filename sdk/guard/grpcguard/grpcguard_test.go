package grpcguard

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
)

const aud = "https://mt5.example.com"

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func TestInterceptors(t *testing.T) {
	iss := testissuer.New()
	defer iss.Close()
	g, err := guard.New(context.Background(), guard.Config{Issuer: iss.URL, Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tok := iss.Mint(iss.Claims("bot", aud, "trade:read"))

	tests := []struct {
		name string
		md   metadata.MD
		reqs []guard.Requirement
		want codes.Code
	}{
		{"no metadata", nil, nil, codes.Unauthenticated},
		{"not bearer", metadata.Pairs("authorization", "Basic Ym90OnM="), nil, codes.Unauthenticated},
		{"invalid token", metadata.Pairs("authorization", "Bearer a.b.c"), nil, codes.Unauthenticated},
		{"other audience", metadata.Pairs("authorization", "Bearer "+iss.Mint(iss.Claims("bot", "https://x", "trade:read"))), nil, codes.Unauthenticated},
		{"missing scope", metadata.Pairs("authorization", "Bearer "+tok), []guard.Requirement{guard.AllOf("trade:open")}, codes.PermissionDenied},
		{"not trusted", metadata.Pairs("authorization", "Bearer "+tok), []guard.Requirement{guard.Trusted()}, codes.PermissionDenied},
		{"allowed", metadata.Pairs("authorization", "Bearer "+tok), []guard.Requirement{guard.AllOf("trade:read")}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tt.md)
			}
			var subject string
			_, err := UnaryServerInterceptor(g, tt.reqs...)(ctx, nil, &grpc.UnaryServerInfo{},
				func(ctx context.Context, _ any) (any, error) { subject = guard.Subject(ctx); return nil, nil })
			if got := status.Code(err); got != tt.want {
				t.Fatalf("unary code = %v (%v), want %v", got, err, tt.want)
			}
			if tt.want == codes.OK && subject != "bot" {
				t.Fatalf("unary handler saw subject %q", subject)
			}
			subject = ""
			err = StreamServerInterceptor(g, tt.reqs...)(nil, &fakeStream{ctx: ctx}, &grpc.StreamServerInfo{},
				func(_ any, ss grpc.ServerStream) error { subject = guard.Subject(ss.Context()); return nil })
			if got := status.Code(err); got != tt.want {
				t.Fatalf("stream code = %v (%v), want %v", got, err, tt.want)
			}
			if tt.want == codes.OK && subject != "bot" {
				t.Fatalf("stream handler saw subject %q", subject)
			}
		})
	}
}
