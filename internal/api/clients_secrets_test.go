package api_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRotateClientSecret(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	tests := []struct {
		name string
		path string // default /api/v1/service-clients
		body any
		// status of the rotation; on 200 oldWorks says whether the old
		// secret still gets a token.
		status   int
		want     []string
		oldWorks bool
		grace    time.Duration
	}{
		{name: "no body: default 24h grace", status: 200, oldWorks: true, grace: 24 * time.Hour},
		{name: "empty object", body: map[string]any{}, status: 200, oldWorks: true, grace: 24 * time.Hour},
		{name: "correct current secret, 1h grace", body: map[string]any{"current_secret": "$old", "grace_period_seconds": 3600},
			status: 200, oldWorks: true, grace: time.Hour},
		{name: "grace 0 ends the old secret at once", path: "/api/v1/admin/service-clients", body: map[string]any{"grace_period_seconds": 0},
			status: 200, oldWorks: false},
		{name: "wrong current secret", body: map[string]any{"current_secret": "pms_wrong"}, status: 400,
			want: []string{`"error":"invalid_secret"`}, oldWorks: true},
		{name: "empty current secret", body: map[string]any{"current_secret": ""}, status: 400,
			want: []string{`"invalid_secret"`}, oldWorks: true},
		{name: "grace too long", body: map[string]any{"grace_period_seconds": 31 * 86400}, status: 422,
			want: []string{"grace_period_seconds must be between 0 and 2592000"}, oldWorks: true},
		{name: "negative grace", body: map[string]any{"grace_period_seconds": -1}, status: 422, oldWorks: true},
		{name: "unknown field", body: map[string]any{"grace": 5}, status: 422, want: []string{"Unknown field"}, oldWorks: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := f.createClient(admin, map[string]any{"name": "Rotating", "client_id": fmt.Sprintf("rot-%d", i)})
			body := tt.body
			if m, ok := body.(map[string]any); ok && m["current_secret"] == "$old" {
				body = map[string]any{"current_secret": old.Secret, "grace_period_seconds": m["grace_period_seconds"]}
			}
			base := tt.path
			if base == "" {
				base = "/api/v1/service-clients"
			}
			before := time.Now()
			r := f.do("POST", base+"/"+old.ID+"/rotate-secret", admin, body)
			expect(t, r, tt.status, tt.want...)
			if got := f.tokenRequest(old, nil).Status == 200; got != tt.oldWorks {
				t.Errorf("old secret works: %v, want %v", got, tt.oldWorks)
			}
			if tt.status != 200 {
				return
			}
			expect(t, r, 200, `"message":"Client secret rotated successfully"`)
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
			}
			fresh := credentials{old.ID, r.str("client_secret")}
			if !strings.HasPrefix(fresh.Secret, "pms_") || fresh.Secret == old.Secret {
				t.Fatalf("new secret %q", fresh.Secret)
			}
			expect(t, f.tokenRequest(fresh, nil), 200)
			exp, err := time.Parse(time.RFC3339, r.str("previous_secret_expires_at"))
			if err != nil {
				t.Fatalf("previous_secret_expires_at %q: %v", r.str("previous_secret_expires_at"), err)
			}
			if lo, hi := before.Add(tt.grace-time.Second), time.Now().Add(tt.grace+time.Second); exp.Before(lo) || exp.After(hi) {
				t.Errorf("previous_secret_expires_at %v, want about now+%v", exp, tt.grace)
			}
		})
	}
	t.Run("twice in a row keeps the first secret's earlier expiry", func(t *testing.T) {
		first := f.createClient(admin, map[string]any{"name": "Twice"})
		r := f.do("POST", "/api/v1/service-clients/"+first.ID+"/rotate-secret", admin, map[string]any{"grace_period_seconds": 0})
		expect(t, r, 200)
		second := credentials{first.ID, r.str("client_secret")}
		expect(t, f.do("POST", "/api/v1/service-clients/"+first.ID+"/rotate-secret/", admin, nil), 200)
		expect(t, f.tokenRequest(first, nil), 401, "invalid_client")
		expect(t, f.tokenRequest(second, nil), 200)
	})
	t.Run("unknown client", func(t *testing.T) {
		expect(t, f.do("POST", "/api/v1/service-clients/ghost/rotate-secret", admin, nil), 404, "Service client not found")
	})
	t.Run("public client", func(t *testing.T) {
		pub := f.createClient(admin, map[string]any{"name": "Pub", "client_type": "public", "redirect_uris": []string{"https://a.example/cb"}})
		expect(t, f.do("POST", "/api/v1/service-clients/"+pub.ID+"/rotate-secret", admin, nil), 400, "Public clients have no secret")
	})
}

func TestClientPermissions(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	f.createClient(admin, map[string]any{"name": "Trader", "client_id": "trader",
		"scope_ids": []string{"trade:read", "trade:open", "account:read", "service:mt5"}})
	f.createClient(admin, map[string]any{"name": "Ops", "client_id": "ops", "scope_ids": []string{"admin:users"}})
	tests := []struct {
		path      string
		scopes    []string
		resources map[string][]string
		admin     bool
	}{
		{"/api/v1/service-clients/trader/permissions", []string{"account:read", "service:mt5", "trade:open", "trade:read"},
			// The original's convention: action before the first ':', resource
			// after it, so trade:read is action "trade" on resource "read".
			map[string][]string{"read": {"account", "trade"}, "mt5": {"service"}, "open": {"trade"}}, false},
		{"/api/v1/admin/service-clients/ops/permissions/", []string{"admin:users"}, map[string][]string{"users": {"admin"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := f.do("GET", tt.path, admin, nil)
			expect(t, r, 200)
			var got []string
			for _, s := range r.field("scopes").([]any) {
				got = append(got, s.(string))
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.scopes) {
				t.Errorf("scopes %v, want %v", got, tt.scopes)
			}
			res, _ := r.field("resources").(map[string]any)
			if len(res) != len(tt.resources) {
				t.Errorf("resources %v, want %v", res, tt.resources)
			}
			for resource, actions := range tt.resources {
				var gotActions []string
				list, _ := res[resource].([]any)
				for _, a := range list {
					gotActions = append(gotActions, a.(string))
				}
				slices.Sort(gotActions)
				if !slices.Equal(gotActions, actions) {
					t.Errorf("resources[%s] = %v, want %v", resource, gotActions, actions)
				}
			}
			if r.field("can_access_admin") != tt.admin {
				t.Errorf("can_access_admin %v", r.field("can_access_admin"))
			}
		})
	}
	expect(t, f.do("GET", "/api/v1/service-clients/ghost/permissions", admin, nil), 404)
}

func TestClientStatsOverview(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	f.createClient(admin, map[string]any{"name": "Busy", "client_id": "busy"})
	f.createClient(admin, map[string]any{"name": "Idle", "client_id": "idle", "is_active": false, "is_trusted": true})
	// Usage counters are written in batches by oauth.Usage; record them
	// directly as its flush would.
	ctx := context.Background()
	if err := f.Store.RecordClientUsage(ctx, "busy", 7, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.Store.RecordClientUsage(ctx, "test-admin", 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/service-clients/stats/overview", "/api/v1/admin/service-clients/stats/overview/"} {
		t.Run(path, func(t *testing.T) {
			r := f.do("GET", path, admin, nil)
			// test-admin, test-users-admin, busy, idle.
			expect(t, r, 200, `"total_clients":4`, `"active_clients":3`, `"trusted_clients":1`, `"total_requests":9`,
				`"most_active_clients":[{"client_id":"busy","requests":7},{"client_id":"test-admin","requests":2}]`)
		})
	}
}

// Audit events are written for every change and never carry a secret.
func TestClientAuditHasNoSecrets(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	imported := "imported-secret-" + strings.Repeat("z", 16)
	c := f.createClient(admin, map[string]any{"name": "Audited", "client_id": "audited", "client_secret": imported})
	r := f.do("POST", "/api/v1/service-clients/audited/rotate-secret", admin, map[string]any{"current_secret": imported})
	expect(t, r, 200)
	fresh := r.str("client_secret")
	expect(t, f.do("POST", "/api/v1/service-clients/audited/rotate-secret", admin, map[string]any{"current_secret": "nope"}), 400)
	expect(t, f.do("PUT", "/api/v1/service-clients/audited", admin, map[string]any{"contact_email": "a@example.com"}), 200)
	expect(t, f.do("DELETE", "/api/v1/service-clients/audited", admin, nil), 204)
	seen := map[string]bool{}
	for _, e := range f.Audit.all() {
		if e.Target == c.ID {
			seen[e.Type] = true
		}
		s := fmt.Sprintf("%+v", e)
		for _, secret := range []string{imported, fresh, f.Admin.Secret, url.QueryEscape(imported)} {
			if strings.Contains(s, secret) {
				t.Errorf("audit event %s contains a secret: %s", e.Type, s)
			}
		}
		if strings.Contains(s, "a@example.com") {
			t.Errorf("audit event %s contains personal data: %s", e.Type, s)
		}
	}
	for _, typ := range []string{"client.created", "client.secret_rotated", "client.secret_rotation_denied", "client.updated", "client.deleted"} {
		if !seen[typ] {
			t.Errorf("no %s event; got %v", typ, seen)
		}
	}
	for _, e := range f.Audit.all() {
		if e.Type == "client.created" && (e.ActorID != f.Admin.ID || e.ActorType != "client" || e.RequestID == "") {
			t.Errorf("client.created actor %s/%s request %q", e.ActorType, e.ActorID, e.RequestID)
		}
	}
}
