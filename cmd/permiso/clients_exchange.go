package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
)

// exchangeFlagHelp describes --token-exchange.
const exchangeFlagHelp = `token-exchange policy (RFC 8693, docs/delegation.md) as JSON, or @FILE: ` +
	`{"resources":[...],"targets":[{"audience":...,"scopes":[...]}],"delegate":true,"impersonate":false,"max_depth":3,"actors":[...]}; '{}' removes it`

// parseExchange reads the value of --token-exchange: a JSON object, or
// @FILE naming a file that holds one. Unknown members are refused, so a
// misspelt one is not silently dropped.
func parseExchange(v string) (*apitype.ExchangePolicy, error) {
	b := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("--token-exchange: %w", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p apitype.ExchangePolicy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("--token-exchange: want a JSON object of the policy: %w", err)
	}
	return &p, nil
}

// exchangeSummary shows a policy in one line.
func exchangeSummary(p apitype.ExchangePolicy) string {
	if len(p.Targets) == 0 && len(p.Actors) == 0 && len(p.Resources) == 0 && !p.Delegate && !p.Impersonate {
		return "-"
	}
	var parts []string
	if p.Delegate {
		parts = append(parts, "delegate")
	}
	if p.Impersonate {
		parts = append(parts, "impersonate")
	}
	if len(p.Resources) > 0 {
		parts = append(parts, "resources="+strings.Join(p.Resources, ","))
	}
	for _, t := range p.Targets {
		parts = append(parts, fmt.Sprintf("%s(%s)", t.Audience, strings.Join(t.Scopes, ",")))
	}
	parts = append(parts, fmt.Sprintf("max_depth=%d", p.MaxDepth))
	if len(p.Actors) > 0 {
		parts = append(parts, "may_act="+strings.Join(p.Actors, ","))
	}
	return strings.Join(parts, " ")
}
