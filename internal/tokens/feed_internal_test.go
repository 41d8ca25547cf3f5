package tokens

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkFeedSnapshotPage measures building one shared snapshot page of
// 50,000 entries: rendering and gzip.
func BenchmarkFeedSnapshotPage(b *testing.B) {
	l := NewRevocationList(RevocationConfig{})
	exp := time.Now().Add(time.Hour).Unix()
	for i := range 50_000 {
		jti := fmt.Sprintf("%022d", i)
		l.bySeq = append(l.bySeq, seqEntry{int64(i + 1), jti, exp})
		l.byJTI[jti] = exp
	}
	l.cursor = 50_000
	b.ReportAllocs()
	for b.Loop() {
		p := l.buildSnapshotPage(pageKey{50_000, 0})
		b.SetBytes(int64(len(p.gz)))
	}
}
