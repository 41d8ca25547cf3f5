package console

import (
	"slices"
	"testing"
)

// TestSplitList: the console's list fields take commas and spaces alike,
// as the CLI and the configuration do.
func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"trade:read market:data":          {"trade:read", "market:data"},
		"trade:read,market:data":          {"trade:read", "market:data"},
		" trade:read ,  market:data\n x ": {"trade:read", "market:data", "x"},
		"":                                nil,
		" , ":                             nil,
	} {
		if got := splitList(in); !slices.Equal(got, want) {
			t.Errorf("splitList(%q) = %q, want %q", in, got, want)
		}
	}
}
