package server

import (
	"fmt"
	"net/http"
	"testing"
)

func TestLabelCapFoldsOverflowIntoOther(t *testing.T) {
	c := labelCap{max: 3}
	tests := []struct{ in, want string }{
		{"a", "a"}, {"b", "b"}, {"a", "a"}, {"c", "c"}, {"d", "other"}, {"b", "b"}, {"e", "other"},
	}
	for i, tt := range tests {
		if got := c.value(tt.in); got != tt.want {
			t.Errorf("step %d: value(%q) = %q, want %q", i, tt.in, got, tt.want)
		}
	}
	for i := range 5000 {
		c.value(fmt.Sprint("flood-", i))
	}
	if n := len(c.seen); n != 3 {
		t.Fatalf("cap held %d values, want 3", n)
	}
}

func TestKnownMethod(t *testing.T) {
	tests := []struct{ in, want string }{
		{http.MethodGet, "GET"}, {http.MethodPost, "POST"}, {http.MethodDelete, "DELETE"},
		{"PROPFIND", "other"}, {"get", "other"}, {"X-RANDOM-12345", "other"},
	}
	for _, tt := range tests {
		if got := knownMethod(tt.in); got != tt.want {
			t.Errorf("knownMethod(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
