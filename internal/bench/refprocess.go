package bench

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Reference modes.
const (
	// ReferenceProcess runs the reference handler as a program of its own,
	// as Permiso runs: the load generator then pays the same
	// cross-process costs against both, which is what the comparison is for.
	ReferenceProcess = "process"
	// ReferenceInProcess serves it from the benchmark's own process, which
	// flatters it: handler and load generator share one Go runtime.
	ReferenceInProcess = "inproc"
)

// referenceSecretEnv passes the reference's client secret to its process
// (never on the command line, where ps would show it).
const referenceSecretEnv = "PERMISO_BENCH_REFERENCE_SECRET"

// referenceClientKeyEnv passes the public key of the reference client's
// private_key_jwt assertions (base64url of its PKIX DER).
const referenceClientKeyEnv = "PERMISO_BENCH_REFERENCE_CLIENT_KEY"

// ServeReference serves the reference handler on addr until ctx ends,
// printing "listening http://HOST:PORT" on out once bound. The client
// secret comes from the environment; it is how `permiso bench
// --serve-reference` runs as the reference process.
func ServeReference(ctx context.Context, addr string, out *os.File) error {
	secret := os.Getenv(referenceSecretEnv)
	if secret == "" {
		return fmt.Errorf("%s is not set", referenceSecretEnv)
	}
	var clientKey *ecdsa.PublicKey
	if enc := os.Getenv(referenceClientKeyEnv); enc != "" {
		der, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			return fmt.Errorf("%s: %w", referenceClientKeyEnv, err)
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		k, ok := pub.(*ecdsa.PublicKey)
		if err != nil || !ok {
			return fmt.Errorf("%s: not an EC public key", referenceClientKeyEnv)
		}
		clientKey = k
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("reference listener: %w", err)
	}
	base := "http://" + l.Addr().String()
	h, err := NewReference(ReferenceConfig{ClientID: "bench-reference", Secret: secret, Issuer: base, ClientKey: clientKey})
	if err != nil {
		l.Close()
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintln(out, "listening", base)
	if err := srv.Serve(l); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// startReferenceProcess starts `bin bench --serve-reference` and waits
// for its address.
func startReferenceProcess(ctx context.Context, bin string) (*referenceServer, error) {
	rs, err := newReferenceServer()
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&rs.clientKey.PublicKey)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(pctx, bin, "bench", "--serve-reference", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), referenceSecretEnv+"="+rs.secret, referenceClientKeyEnv+"="+base64.RawURLEncoding.EncodeToString(pub))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start the reference process: %w", err)
	}
	rs.stop = func() { cancel(); cmd.Wait() }
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		base, found := strings.CutPrefix(l, "listening ")
		if !ok || !found {
			rs.stop()
			return nil, fmt.Errorf("reference process did not start (said %q)", l)
		}
		rs.baseURL = base
	case <-time.After(10 * time.Second):
		rs.stop()
		return nil, fmt.Errorf("reference process did not start within 10s")
	}
	return rs, nil
}
