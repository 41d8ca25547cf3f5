package grpcguard_test

import (
	"context"
	"log"

	"google.golang.org/grpc"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/guard/grpcguard"
)

// This example installs the interceptors on a gRPC server so that every
// call needs a token for the service holding market:data.
func ExampleUnaryServerInterceptor() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := guard.New(ctx, guard.Config{
		Issuer:   "http://127.0.0.1:8000",
		Audience: "https://mt5.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcguard.UnaryServerInterceptor(g, guard.AllOf("market:data"))),
		grpc.ChainStreamInterceptor(grpcguard.StreamServerInterceptor(g, guard.AllOf("market:data"))),
	)
	defer srv.Stop()
	// Register services on srv and call srv.Serve(listener).
}
