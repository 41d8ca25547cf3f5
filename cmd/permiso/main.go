// Command permiso is the Permiso authorization server and its admin CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name, help string
	run        func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the authorization server", runServe},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"clients", "manage service clients through the admin API", runClients},
		{"scopes", "manage scopes through the admin API", runScopes},
		{"roles", "manage roles through the admin API", runRoles},
		{"keys", "list or rotate signing keys through the admin API", runKeys},
		{"token", "get an access token with client credentials", runToken},
		{"bench", "load-benchmark a Permiso server", runBench},
		{"gateway", "serve forward-auth decisions for a proxy (nginx, Caddy, Traefik, Envoy)", runGateway},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, "permiso", version)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		default:
			fmt.Fprintln(stderr, "permiso "+c.name+":", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "permiso: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: permiso <command> [options]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nRun 'permiso <command> --help' for a command's options.")
}
