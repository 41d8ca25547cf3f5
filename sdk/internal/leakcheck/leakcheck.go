package leakcheck

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Check fails t if, within ten seconds (a deadline, not a wait), goroutines still run a function
// whose name contains one of the markers (for example "guard.(*Guard)").
func Check(t testing.TB, markers ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		leaked := find(markers)
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutine(s) leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func find(markers []string) []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "leakcheck.find") {
			continue
		}
		for _, m := range markers {
			if strings.Contains(g, m) {
				leaked = append(leaked, g)
				break
			}
		}
	}
	return leaked
}
