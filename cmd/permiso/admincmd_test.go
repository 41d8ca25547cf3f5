package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The admin commands share their ending: --json prints the server's own
// answer, whole, and nothing else; without it only what the command makes
// of the decoded answer.
func TestCallPrint(t *testing.T) {
	var method string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method = r.Method
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"name":"r1","extra":1}`)
	}))
	defer srv.Close()
	api := &adminClient{base: srv.URL, http: srv.Client(), token: "t", stderr: io.Discard}
	type named struct {
		Name string `json:"name"`
	}
	for _, tc := range []struct {
		json bool
		want string
	}{
		{false, "name r1\n"},
		{true, "{\n  \"name\": \"r1\",\n  \"extra\": 1\n}\n"},
	} {
		var out bytes.Buffer
		err := callPrint(context.Background(), &connFlags{json: tc.json}, api, &out, "PUT", "/x", map[string]int{"a": 1},
			func(n named) error {
				_, err := io.WriteString(&out, "name "+n.Name+"\n")
				return err
			})
		if err != nil {
			t.Fatalf("json=%v: %v", tc.json, err)
		}
		if out.String() != tc.want || method != "PUT" {
			t.Errorf("json=%v: %s printed %q, want %q", tc.json, method, out.String(), tc.want)
		}
	}

	var out bytes.Buffer
	if err := deletePath(context.Background(), api, "/x", &out, "deleted x"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "deleted x\n" || method != "DELETE" {
		t.Errorf("delete: %s printed %q", method, out.String())
	}
}
