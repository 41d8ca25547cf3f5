package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
)

func runTrusts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "trusts", []subcommand{
		{"create", "register an external issuer (Kubernetes, SPIFFE, CI, IdP) whose tokens authenticate bound clients", trustsCreate},
		{"list", "list trusts and their bindings", trustsList},
		{"get", "show one trust and its bindings", trustsGet},
		{"update", "change a trust", trustsUpdate},
		{"delete", "delete a trust (once no client is bound to it)", trustsDelete},
		{"keys", "fetch a trust's keys now and list their kids", trustsKeys},
		{"bind", "bind a client to an external identity of a trust", trustsBind},
		{"unbind", "remove a binding", trustsUnbind},
	}, args, stdout, stderr)
}

const trustsPath = "/api/v1/trusts"

type trustFlags struct {
	description, issuer, keySource, jwksURI, jwksFile, trustDomain, bundleEndpoint, bundleFile, audience string
	maxAge                                                                                               time.Duration
	disable, enable                                                                                      bool
}

func addTrustFlags(fs *flag.FlagSet) *trustFlags {
	f := &trustFlags{}
	fs.StringVar(&f.description, "description", "", "description")
	fs.StringVar(&f.issuer, "issuer", "", "the exact iss of the trust's tokens (a Kubernetes cluster's service account issuer, say)")
	fs.StringVar(&f.keySource, "key-source", "", "where the keys come from: oidc (the issuer's discovery document), jwks_uri, jwks (a file), spiffe (a trust bundle)")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "the URL of the trust's JWK Set (key-source jwks_uri)")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "a JWK Set file, e.g. kubectl get --raw /openid/v1/jwks (key-source jwks)")
	fs.StringVar(&f.trustDomain, "trust-domain", "", "the SPIFFE trust domain, e.g. example.org (key-source spiffe)")
	fs.StringVar(&f.bundleEndpoint, "spiffe-bundle-endpoint", "", "the https URL of the SPIFFE bundle endpoint (key-source spiffe)")
	fs.StringVar(&f.bundleFile, "spiffe-bundle-file", "", "a static SPIFFE bundle file (key-source spiffe)")
	fs.StringVar(&f.audience, "audience", "", "the aud Permiso expects in the trust's tokens (default: Permiso's issuer)")
	fs.DurationVar(&f.maxAge, "max-token-age", 0, "how long after its iat a token is accepted (1m-168h; default 1h)")
	fs.BoolVar(&f.disable, "disable", false, "disable the trust: its tokens authenticate nobody")
	fs.BoolVar(&f.enable, "enable", false, "enable the trust")
	return f
}

func (f *trustFlags) body(fs *flag.FlagSet) (map[string]any, error) {
	b := map[string]any{}
	for flagName, v := range map[string]struct {
		field string
		value any
	}{
		"description": {"description", f.description}, "issuer": {"issuer", f.issuer}, "key-source": {"key_source", f.keySource},
		"jwks-uri": {"jwks_uri", f.jwksURI}, "trust-domain": {"trust_domain", f.trustDomain},
		"spiffe-bundle-endpoint": {"spiffe_bundle_endpoint", f.bundleEndpoint}, "audience": {"audience", f.audience},
		"max-token-age": {"max_token_age", int(f.maxAge / time.Second)},
	} {
		if isSet(fs, flagName) {
			b[v.field] = v.value
		}
	}
	for flagName, field := range map[string]string{"jwks-file": "jwks", "spiffe-bundle-file": "spiffe_bundle"} {
		file := map[string]string{"jwks-file": f.jwksFile, "spiffe-bundle-file": f.bundleFile}[flagName]
		if file == "" {
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if !json.Valid(raw) {
			return nil, fmt.Errorf("--%s: %s is not JSON", flagName, file)
		}
		b[field] = json.RawMessage(raw)
	}
	switch {
	case f.disable && f.enable:
		return nil, errors.New("give --disable or --enable, not both")
	case f.disable:
		b["is_active"] = false
	case f.enable:
		b["is_active"] = true
	}
	return b, nil
}

func printTrust(w io.Writer, t apitype.Trust) error {
	keys := t.KeySource
	switch {
	case t.JWKSURI != "":
		keys += " " + t.JWKSURI
	case t.SPIFFEBundleEndpoint != "":
		keys += " " + t.SPIFFEBundleEndpoint
	case len(t.JWKS) > 0 || len(t.SPIFFEBundle) > 0:
		keys += " (static)"
	}
	rows := [][]string{{"name", t.Name}, {"description", orDash(t.Description)}, {"issuer", orDash(t.Issuer)},
		{"keys", keys}, {"trust_domain", orDash(t.TrustDomain)}, {"audience", t.Audience},
		{"max_token_age", (time.Duration(t.MaxTokenAge) * time.Second).String()}, {"active", strconv.FormatBool(t.IsActive)},
		{"created_at", fmtTime(&t.CreatedAt)}}
	if err := writeTable(w, []string{"FIELD", "VALUE"}, rows); err != nil {
		return err
	}
	if len(t.Bindings) == 0 {
		_, err := fmt.Fprintln(w, "\nno clients bound")
		return err
	}
	fmt.Fprintln(w)
	var brows [][]string
	for _, b := range t.Bindings {
		brows = append(brows, []string{b.ID, b.ClientID, b.Subject, conditionList(b.Conditions)})
	}
	return writeTable(w, []string{"BINDING", "CLIENT_ID", "SUBJECT", "CONDITIONS"}, brows)
}

func conditionList(c map[string][]string) string {
	var parts []string
	for k, v := range c {
		parts = append(parts, k+"="+strings.Join(v, "|"))
	}
	slices.Sort(parts)
	return orDash(strings.Join(parts, " "))
}

func trustCall(ctx context.Context, conn *connFlags, method, path string, body any, stdout, stderr io.Writer) error {
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	return callPrint(ctx, conn, api, stdout, method, path, body, func(t apitype.Trust) error {
		return printTrust(stdout, t)
	})
}

func trustsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso trusts create", "NAME --key-source SOURCE [options]",
		"Registers an external issuer whose tokens authenticate the clients bound to it (see docs/machine-identity.md).", stderr)
	conn := addConnFlags(fs)
	tf := addTrustFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	body, err := tf.body(fs)
	if err != nil {
		return err
	}
	body["name"] = pos[0]
	return trustCall(ctx, conn, "POST", trustsPath, body, stdout, stderr)
}

func trustsUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso trusts update", "NAME [options]", "Changes the given fields of a trust.", stderr)
	conn := addConnFlags(fs)
	tf := addTrustFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	body, err := tf.body(fs)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		fs.Usage()
		return errors.New("nothing to change")
	}
	return trustCall(ctx, conn, "PUT", trustsPath+"/"+url.PathEscape(pos[0]), body, stdout, stderr)
}

func trustsGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso trusts get", "NAME [options]", "Shows a trust and the clients bound to it.", stderr)
	conn := addConnFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	return trustCall(ctx, conn, "GET", trustsPath+"/"+url.PathEscape(pos[0]), nil, stdout, stderr)
}

func trustsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso trusts list", "[options]", "Lists trusts.", stderr)
	conn := addConnFlags(fs)
	api, _, err := conn.open(ctx, fs, args, 0, stderr)
	if err != nil {
		return err
	}
	return callPrint(ctx, conn, api, stdout, "GET", trustsPath, nil, func(out apitype.TrustList) error {
		var rows [][]string
		for _, t := range out.Trusts {
			rows = append(rows, []string{t.Name, orDash(t.Issuer + t.TrustDomain), t.KeySource, t.Audience,
				strconv.FormatBool(t.IsActive), strconv.Itoa(len(t.Bindings))})
		}
		return writeTable(stdout, []string{"NAME", "ISSUER", "KEYS", "AUDIENCE", "ACTIVE", "BINDINGS"}, rows)
	})
}

func trustsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso trusts delete", "NAME [options]", "Deletes a trust; unbind its clients first.", stderr)
	return deleteNamed(ctx, fs, args, trustsPath, "trust", stdout, stderr)
}

func trustsKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso trusts keys", "NAME [options]", "Fetches the trust's keys now and lists their kids, or says why it cannot.", stderr)
	conn := addConnFlags(fs)
	api, pos, err := conn.open(ctx, fs, args, 1, stderr)
	if err != nil {
		return err
	}
	path := trustsPath + "/" + url.PathEscape(pos[0]) + "/keys"
	return callPrint(ctx, conn, api, stdout, "GET", path, nil, func(out apitype.TrustKeys) error {
		if out.Error != "" {
			return fmt.Errorf("keys of trust %s: %s", pos[0], out.Error)
		}
		for _, k := range out.KeyIDs {
			fmt.Fprintln(stdout, orDash(k))
		}
		return nil
	})
}

// conditionFlag collects repeated --condition path=value flags.
type conditionFlag map[string][]string

func (c conditionFlag) String() string { return conditionList(c) }
func (c conditionFlag) Set(s string) error {
	path, value, ok := strings.Cut(s, "=")
	if !ok || path == "" || value == "" {
		return errors.New("want CLAIM.PATH=VALUE")
	}
	c[path] = append(c[path], value)
	return nil
}

func trustsBind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso trusts bind", "TRUST CLIENT_ID --subject SUB [options]",
		"Binds a client to an external identity: tokens of the trust whose sub is SUB (and whose claims meet the conditions) authenticate the client.", stderr)
	conn := addConnFlags(fs)
	subject := fs.String("subject", "", "the tokens' sub: system:serviceaccount:NS:NAME on Kubernetes, a SPIFFE ID (or a path ending in /*), a CI job's subject")
	cond := conditionFlag{}
	fs.Var(cond, "condition", "CLAIM.PATH=VALUE a claim must have (repeat it; several values of one path are alternatives)")
	ns := fs.String("k8s-namespace", "", "require kubernetes.io.namespace")
	sa := fs.String("k8s-service-account", "", "require kubernetes.io.serviceaccount.name")
	repo := fs.String("repository", "", "require the CI token's repository claim")
	ref := fs.String("ref", "", "require the CI token's ref claim")
	pos, err := parseArgs(fs, args, 2)
	if err != nil {
		return err
	}
	if *subject == "" {
		fs.Usage()
		return errors.New("--subject is required")
	}
	for path, v := range map[string]string{"kubernetes.io.namespace": *ns, "kubernetes.io.serviceaccount.name": *sa,
		"repository": *repo, "ref": *ref} {
		if v != "" {
			cond[path] = append(cond[path], v)
		}
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	path := trustsPath + "/" + url.PathEscape(pos[0]) + "/bindings"
	body := apitype.TrustBindingFields{ClientID: pos[1], Subject: *subject, Conditions: cond}
	return callPrint(ctx, conn, api, stdout, "POST", path, body, func(b apitype.TrustBinding) error {
		fmt.Fprintf(stdout, "bound %s to %s of trust %s (binding %s)\n", b.ClientID, b.Subject, b.Trust, b.ID)
		return nil
	})
}

func trustsUnbind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso trusts unbind", "TRUST BINDING_ID [options]", "Removes a binding (permiso trusts get TRUST lists them).", stderr)
	conn := addConnFlags(fs)
	api, pos, err := conn.open(ctx, fs, args, 2, stderr)
	if err != nil {
		return err
	}
	path := trustsPath + "/" + url.PathEscape(pos[0]) + "/bindings/" + url.PathEscape(pos[1])
	return deletePath(ctx, api, path, stdout, "removed binding "+pos[1])
}
