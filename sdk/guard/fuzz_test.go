package guard

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// FuzzFeedApply feeds arbitrary pages to the revocation list: a page is
// applied or refused, never panics, and a snapshot replaces the list only
// on its last page.
func FuzzFeedApply(f *testing.F) {
	for _, s := range []string{
		`{"type":"snapshot","cursor":"1","entries":[{"kind":"jti","value":"a","exp":9999999999}]}`,
		`{"type":"snapshot","cursor":"1","entries":[],"next":"/x"}`,
		`{"type":"delta","cursor":"2","entries":[{"kind":"sid","value":"s","exp":0},{"kind":"new","value":"n","exp":1}]}`,
		`{"type":"other"}`, `{}`, `{"entries":null}`,
	} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, page string, continuing bool) {
		var fd wire.RevocationFeed
		if json.Unmarshal([]byte(page), &fd) != nil {
			return
		}
		var r revocations
		r.apply(&wire.RevocationFeed{Type: wire.FeedSnapshot, Cursor: "0", Entries: []wire.RevocationEntry{{Kind: wire.RevokeJTI, Value: "held", Exp: 0}}}, time.Now(), 0, false)
		full, err := r.apply(&fd, time.Now(), 0, continuing)
		if err != nil && full {
			t.Fatal("an error replaced the list")
		}
		if fd.Type == wire.FeedSnapshot && fd.Next != "" && !r.revoked(&wire.Claims{ID: "held"}) {
			t.Fatal("a partial snapshot replaced the list")
		}
		if full && (fd.Type != wire.FeedSnapshot || fd.Next != "") {
			t.Fatalf("page %+v completed a snapshot", fd)
		}
	})
}
