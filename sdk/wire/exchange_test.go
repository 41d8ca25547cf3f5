package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMayActForms(t *testing.T) {
	tests := []struct {
		in    string
		allow string
		want  bool
	}{
		{`{"sub":"mt5-api","client_id":"mt5-api"}`, "mt5-api", true},
		{`{"sub":"mt5-api"}`, "mt5-api", true},
		{`[{"client_id":"a"},{"client_id":"b"}]`, "b", true},
		{`{"sub":"a","client_id":"b"}`, "a", false},
		{`{"sub":""}`, "", false},
	}
	for _, tt := range tests {
		var m MayAct
		if err := json.Unmarshal([]byte(tt.in), &m); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if got := m.Allows(tt.allow); got != tt.want {
			t.Errorf("%s Allows(%q) = %v", tt.in, tt.allow, got)
		}
	}
	one, _ := json.Marshal(MayAct{{Subject: "a", ClientID: "a"}})
	two, _ := json.Marshal(MayAct{{ClientID: "a"}, {ClientID: "b"}})
	if string(one) != `{"sub":"a","client_id":"a"}` || !strings.HasPrefix(string(two), "[") {
		t.Fatalf("encodings %s %s", one, two)
	}
	for _, bad := range []string{`"mt5"`, `1`, `[1]`, `{"sub":1}`} {
		var m MayAct
		if json.Unmarshal([]byte(bad), &m) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestActorChain(t *testing.T) {
	a := &Actor{Subject: "risk", ClientID: "risk", Act: &Actor{Subject: "mt5", ClientID: "mt5"}}
	if c := a.Chain(); len(c) != 2 || c[0].Subject != "risk" || c[1].Subject != "mt5" || a.Depth() != 2 {
		t.Fatalf("chain %+v depth %d", c, a.Depth())
	}
	var none *Actor
	if none.Chain() != nil || none.Depth() != 0 {
		t.Fatal("nil actor")
	}
}

// FuzzClaimsDelegation decodes untrusted claims with act and may_act, as
// every verifier does after the signature holds.
func FuzzClaimsDelegation(f *testing.F) {
	f.Add(`{"sub":"u","act":{"sub":"a","act":{"sub":"b"}},"may_act":{"sub":"c"}}`)
	f.Add(`{"may_act":[{"client_id":"x"},{"sub":"y"}],"root_jti":"r"}`)
	f.Add(`{"act":{"act":{"act":{"act":null}}}}`)
	f.Fuzz(func(t *testing.T, in string) {
		var c Claims
		if json.Unmarshal([]byte(in), &c) != nil {
			return
		}
		chain := c.Act.Chain()
		if len(chain) != c.Act.Depth() {
			t.Fatalf("chain %d, depth %d", len(chain), c.Act.Depth())
		}
		c.MayAct.Allows("x")
		if _, err := json.Marshal(&c); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
