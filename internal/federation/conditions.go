package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits on binding conditions.
const (
	MaxConditions      = 16
	MaxConditionValues = 32
	maxConditionLen    = 256
)

// CheckConditions checks binding conditions: claim paths of names joined
// by dots, each with a list of accepted values.
func CheckConditions(c map[string][]string) error {
	if len(c) > MaxConditions {
		return fmt.Errorf("at most %d conditions", MaxConditions)
	}
	for path, values := range c {
		if path == "" || len(path) > maxConditionLen || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
			return fmt.Errorf("condition %q: a claim path is names joined by dots, such as kubernetes.io.namespace", path)
		}
		if len(values) == 0 || len(values) > MaxConditionValues {
			return fmt.Errorf("condition %q: list 1 to %d accepted values", path, MaxConditionValues)
		}
		for _, v := range values {
			if v == "" || len(v) > maxConditionLen {
				return fmt.Errorf("condition %q: values are 1 to %d characters", path, maxConditionLen)
			}
		}
	}
	return nil
}

// claimAt finds the value at a dotted path in claims. Claim names may hold
// dots themselves ("kubernetes.io"), so at each level the longest member
// name that the path continues with wins.
func claimAt(claims map[string]any, path string) (any, bool) {
	cur := claims
	for {
		best := ""
		for name := range cur {
			if (path == name || strings.HasPrefix(path, name+".")) && len(name) > len(best) {
				best = name
			}
		}
		if best == "" {
			return nil, false
		}
		v := cur[best]
		if path == best {
			return v, true
		}
		next, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, path = next, path[len(best)+1:]
	}
}

// meets reports whether the token's claims meet every condition, and the
// path of the first that fails. A string, number or boolean claim must
// equal an accepted value; a list of them must hold one.
func meets(payload []byte, conditions map[string][]string) (string, error) {
	if len(conditions) == 0 {
		return "", nil
	}
	var claims map[string]any
	d := json.NewDecoder(strings.NewReader(string(payload)))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil {
		return "", errors.New("claims are not a JSON object")
	}
	paths := make([]string, 0, len(conditions))
	for p := range conditions {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		v, ok := claimAt(claims, p)
		if !ok || !accepted(v, conditions[p]) {
			return p, nil
		}
	}
	return "", nil
}

func accepted(v any, values []string) bool {
	switch x := v.(type) {
	case string:
		return slices.Contains(values, x)
	case json.Number:
		return slices.Contains(values, x.String())
	case bool:
		return slices.Contains(values, strconv.FormatBool(x))
	case []any:
		for _, e := range x {
			if _, isList := e.([]any); !isList && accepted(e, values) {
				return true
			}
		}
	}
	return false
}
