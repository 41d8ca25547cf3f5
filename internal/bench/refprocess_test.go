package bench

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestServeReferenceAnswersLikeTheInProcessHandler(t *testing.T) {
	t.Setenv(referenceSecretEnv, "pms_reference-secret")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeReference(ctx, "127.0.0.1:0", w) }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	post := func(secret string) int {
		req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("bench-reference", secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := post("pms_reference-secret"); got != 200 {
		t.Errorf("right secret: %d", got)
	}
	if got := post("pms_wrong"); got != 401 {
		t.Errorf("wrong secret: %d", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeReferenceNeedsItsSecret(t *testing.T) {
	t.Setenv(referenceSecretEnv, "")
	if err := ServeReference(context.Background(), "127.0.0.1:0", os.Stdout); err == nil {
		t.Fatal("started without a secret")
	}
}
