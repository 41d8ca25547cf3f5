package wire

import (
	"encoding/json"
	"testing"
)

func TestHasScope(t *testing.T) {
	tests := []struct {
		granted  []string
		required string
		want     bool
	}{
		{[]string{"read:profile"}, "read:profile", true},
		{[]string{"admin:users"}, "read:users", true},
		{[]string{"admin:users"}, "write:users", true},
		{[]string{"admin:users"}, "delete:users", false},
		{[]string{"admin:system"}, "read:system", true},
		{[]string{"admin:system"}, "service:mt5", true},
		{[]string{"admin:system"}, "read:users", false}, // not transitive
		{[]string{"admin:*"}, "admin:users", false},     // wildcards grant nothing
		{[]string{"*:*"}, "read:profile", false},
		{[]string{"READ:profile"}, "read:profile", false},
		{[]string{"admin:users;"}, "admin:users", false},
		{nil, "read:profile", false},
	}
	for _, tt := range tests {
		if got := HasScope(tt.granted, tt.required); got != tt.want {
			t.Errorf("HasScope(%v, %q) = %v", tt.granted, tt.required, got)
		}
	}
	if m := MissingScopes([]string{"admin:trades"}, []string{"read:trades", "trade:open"}); len(m) != 1 || m[0] != "trade:open" {
		t.Errorf("MissingScopes %v", m)
	}
}

func TestAudienceJSON(t *testing.T) {
	for in, want := range map[string]int{`"a"`: 1, `["a","b"]`: 2, `[]`: 0} {
		var a Audience
		if err := json.Unmarshal([]byte(in), &a); err != nil || len(a) != want {
			t.Errorf("%s: %v %v", in, a, err)
		}
	}
	var a Audience
	if json.Unmarshal([]byte(`5`), &a) == nil {
		t.Error("a number was accepted as aud")
	}
	if b, _ := json.Marshal(Audience{"x"}); string(b) != `"x"` {
		t.Errorf("single audience encodes as %s", b)
	}
	if b, _ := json.Marshal(Audience{"x", "y"}); string(b) != `["x","y"]` {
		t.Errorf("two audiences encode as %s", b)
	}
}
