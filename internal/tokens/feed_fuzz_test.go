package tokens

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzFeedQuery: any query string either parses into a query the feed can
// answer (non-negative cursors; snapshot pages with both parts) or is
// refused with ErrFeedQuery; it never panics.
func FuzzFeedQuery(f *testing.F) {
	for _, s := range []string{"", "since=12", "snapshot=9&after=3", "since=-1", "snapshot=1", "after=2&snapshot=1",
		"since=99999999999999999999", "since=%zz", "since=1&since=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseFeedQuery(v)
		if err != nil {
			if !errors.Is(err, ErrFeedQuery) {
				t.Fatalf("%q: error %v is not ErrFeedQuery", raw, err)
			}
			return
		}
		if q.Since < 0 || q.Snapshot < 0 || q.After < 0 || q.After > q.Snapshot || (q.Snapshot > 0 && q.Since != 0) {
			t.Fatalf("%q parsed into %+v", raw, q)
		}
	})
}
