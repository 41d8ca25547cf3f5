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

type command struct {
	name, help string
	run        func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the command table; stdin reaches the commands that read it
// (passwords, tokens).
func commands(stdin io.Reader) []command {
	return []command{
		{"serve", "run the authorization server", runServe},
		{"migrate", "apply database migrations and exit", runMigrate},
		{"users", "manage users (and create the first administrator) through the admin API", runUsers(stdin)},
		{"clients", "manage service clients through the admin API", runClients},
		{"scopes", "manage scopes through the admin API", runScopes},
		{"roles", "manage roles through the admin API", runRoles},
		{"trusts", "manage trusts for workload identity federation through the admin API", runTrusts},
		{"tenants", "create, list, disable, enable and delete tenants, and hand them to their administrators", runTenants},
		{"keys", "list, rotate or export signing keys", runKeys},
		{"token", "get an access token with client credentials, or inspect one", runToken(stdin)},
		{"bench", "load-benchmark a Permiso server", runBench},
		{"gateway", "serve forward-auth decisions for a proxy (nginx, Caddy, Traefik, Envoy)", runGateway},
		{"completion", "print a shell completion script (bash, zsh or fish)", runCompletion},
		{"version", "print the version, commit and Go version", runVersion},
	}
}

func main() {
	// The first signal starts a graceful stop (serve drains); a second one
	// ends the process at once. Both are read from one channel, so the
	// second cannot slip in before the default action is restored, as it
	// could with signal.NotifyContext and a later stop().
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		cancel()
		sig := <-sigs
		code := 130 // 128 + SIGINT, as a shell reports it
		if sig == syscall.SIGTERM {
			code = 143
		}
		os.Exit(code)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, stdin)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "--version", "-version", "-v":
		args = []string{"version"}
	case completeCommand:
		return runComplete(ctx, args[1:], stdin, stdout)
	}
	for _, c := range commands(stdin) {
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
	usage(stderr, stdin)
	return 2
}

func usage(w io.Writer, stdin io.Reader) {
	fmt.Fprintln(w, "Usage: permiso <command> [options]\n\nCommands:")
	for _, c := range commands(stdin) {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nRun 'permiso <command> --help' for a command's options; 'permiso --version' for the version.")
}
