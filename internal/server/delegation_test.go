package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/permiso-auth/permiso/internal/rbac"
)

// The delegation rule end to end: partial administrators (service clients
// holding some admin:* scopes, as docs/security.md describes) against every
// write endpoint of /api/v1. Each request is made twice: once staying
// within what the caller holds (allowed when the caller holds the
// endpoint's scope) and once granting or touching more (refused with 403).

var partialAdmins = []struct {
	name   string
	scopes []string
}{
	{"clients-only", []string{"admin:clients"}},
	{"roles-only", []string{"admin:roles"}},
	{"users-only", []string{"admin:users"}},
	{"sessions-only", []string{"admin:sessions"}},
	{"clients-and-users", []string{"admin:clients", "admin:users"}},
}

// delegationFixture is one server with targets on both sides of the line
// for one partial administrator.
type delegationFixture struct {
	ts     *testServer
	t      *testing.T
	admin  string   // the bootstrap client's token (holds every scope)
	scopes []string // what the partial administrator holds
	token  string   // the partial administrator's token
	id     string   // and credentials
	secret string
	// within is a role holding exactly the caller's scopes; high* hold
	// admin:system (the admin role) and more than any partial admin.
	within, highUser, highClient string
	highSession, highAccess      string
	seq                          atomic.Int64
	// dry is set while building a request that the endpoint's own scope
	// check refuses before looking at anything: targets are then names
	// that exist nowhere, which spares creating (and hashing) them.
	dry bool
}

func (f *delegationFixture) unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, f.seq.Add(1))
}

// newClient creates a confidential client holding scopes; it returns the client_id.
func (f *delegationFixture) newClient(scopes ...string) string {
	f.t.Helper()
	if f.dry {
		return f.unique("nowhere")
	}
	id, _ := f.ts.createClient(map[string]any{"name": "target", "client_id": f.unique("target"), "scope_ids": nonNilList(scopes)})
	return id
}

func (f *delegationFixture) newRole(scopes ...string) string {
	f.t.Helper()
	if f.dry {
		return f.unique("nowhere")
	}
	name := f.unique("role")
	r := f.ts.jsonReq("POST", "/api/v1/roles", f.admin, map[string]any{"name": name, "scope_ids": nonNilList(scopes)})
	status(f.t, r, http.StatusCreated)
	return name
}

func (f *delegationFixture) newScope(name string) string {
	f.t.Helper()
	if f.dry {
		return name
	}
	status(f.t, f.ts.jsonReq("POST", "/api/v1/roles/scopes", f.admin, map[string]any{"name": name}), http.StatusCreated)
	return name
}

// newUser creates a user holding roles; it returns the id.
func (f *delegationFixture) newUser(roles ...string) string {
	f.t.Helper()
	if f.dry {
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", f.seq.Add(1))
	}
	name := f.unique("user")
	r := f.ts.jsonReq("POST", "/api/v1/users", f.admin, map[string]any{"username": name, "email": name + "@example.com",
		"password": goodPassword, "role_ids": nonNilList(roles)})
	status(f.t, r, http.StatusCreated)
	return r.str("id")
}

// session signs a user in and returns the session id and access token.
func (f *delegationFixture) session(userID string) (string, string) {
	f.t.Helper()
	if f.dry {
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", f.seq.Add(1)), ""
	}
	u := f.ts.jsonReq("GET", "/api/v1/users/"+userID, f.admin, nil)
	tok := f.ts.loginOK(u.str("username"))
	return tok.Session, tok.Access
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// request is one call of a case.
type request struct {
	method, path string
	body         any
}

// delegationCase is one write endpoint: gate is the admin scope it needs;
// within and beyond build the two requests (beyond nil: the endpoint
// grants and touches nothing, so only the gate decides).
type delegationCase struct {
	name           string
	gate           string
	ok             int
	within, beyond func(f *delegationFixture) request
}

// implied is a scope the caller holds through the implied-scope rule
// (admin:X implies read:X and write:X). Both are deleted first, so that
// each case starts with neither.
func (f *delegationFixture) implied(action string) string {
	f.t.Helper()
	for _, a := range []string{"read", "write"} {
		if f.dry {
			break
		}
		name := a + ":" + rbac.Resource(f.scopes[0])
		if r := f.ts.jsonReq("DELETE", "/api/v1/roles/scopes/"+name, f.admin, nil); r.Status != 204 && r.Status != 404 {
			f.t.Fatalf("delete %s: %d %s", name, r.Status, r.Body)
		}
	}
	return action + ":" + rbac.Resource(f.scopes[0])
}

var delegationCases = []delegationCase{
	// Service clients.
	{"create client", "admin:clients", 201,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/service-clients", map[string]any{"name": "New client", "scope_ids": f.scopes}}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/service-clients", map[string]any{"name": "New client", "scope_ids": []string{"admin:system"}}}
		}},
	{"create client (admin alias)", "admin:clients", 201,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/admin/service-clients", map[string]any{"name": "New client", "scope_ids": f.scopes}}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/admin/service-clients", map[string]any{"name": "New client", "scopes": append(f.scopes, "admin:system")}}
		}},
	{"update client", "admin:clients", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/service-clients/" + f.newClient(f.scopes...), map[string]any{"description": "d", "is_active": false}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/service-clients/" + f.highClient, map[string]any{"is_active": false}}
		}},
	{"update client granting scopes", "admin:clients", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/service-clients/" + f.newClient(), map[string]any{"scope_ids": f.scopes}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/service-clients/" + f.newClient(), map[string]any{"scope_ids": []string{"admin:system"}}}
		}},
	{"set client scopes", "admin:clients", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/service-clients/" + f.newClient() + "/scopes", map[string]any{"scope_ids": f.scopes}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/service-clients/" + f.newClient() + "/scopes", map[string]any{"scope_ids": []string{"admin:roles", "admin:system"}}}
		}},
	{"set scopes of a client holding more", "admin:clients", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/service-clients/" + f.newClient(f.scopes...) + "/scopes", map[string]any{"scope_ids": []string{}}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/service-clients/" + f.highClient + "/scopes", map[string]any{"scope_ids": []string{}}}
		}},
	{"rotate client secret", "admin:clients", 200,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/service-clients/" + f.newClient(f.scopes...) + "/rotate-secret", nil}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/service-clients/" + f.highClient + "/rotate-secret", nil}
		}},
	{"rotate client webhook secret", "admin:clients", 200,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/service-clients/" + f.newClient(f.scopes...) + "/webhook/rotate-secret", nil}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/service-clients/" + f.highClient + "/webhook/rotate-secret", nil}
		}},
	// Within, the call gets past the rule to the client's lack of a
	// webhook_url (400 no_webhook); beyond, it is refused first.
	{"test client webhook", "admin:clients", 400,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/service-clients/" + f.newClient(f.scopes...) + "/webhook/test", nil}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/service-clients/" + f.highClient + "/webhook/test", nil}
		}},
	{"delete client", "admin:clients", 204,
		func(f *delegationFixture) request {
			return request{"DELETE", "/api/v1/service-clients/" + f.newClient(f.scopes...), nil}
		},
		func(f *delegationFixture) request {
			return request{"DELETE", "/api/v1/admin/service-clients/" + f.highClient, nil}
		}},

	// Roles.
	{"create role", "admin:roles", 201,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/roles", map[string]any{"name": f.unique("new"), "scope_ids": f.scopes}}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/roles", map[string]any{"name": f.unique("new"), "scope_ids": []string{"admin:system"}}}
		}},
	{"update role", "admin:roles", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/" + f.newRole(f.scopes...), map[string]any{"name": f.unique("renamed")}}
		},
		func(f *delegationFixture) request {
			// Renaming the admin role would change every admin's token.
			return request{"PUT", "/api/v1/roles/admin", map[string]any{"name": "administrators"}}
		}},
	{"update role granting scopes", "admin:roles", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/" + f.newRole(), map[string]any{"scope_ids": f.scopes}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/" + f.newRole(), map[string]any{"scope_ids": []string{"admin:system"}}}
		}},
	{"set role scopes", "admin:roles", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/" + f.newRole(f.scopes...) + "/scopes", map[string]any{"scope_ids": []string{}}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/" + f.newRole(f.scopes...) + "/scopes", map[string]any{"scope_ids": append(f.scopes, "admin:system")}}
		}},
	{"set scopes of a role holding more", "admin:roles", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/" + f.newRole() + "/scopes", map[string]any{"scope_ids": []string{}}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/admin/scopes", map[string]any{"scope_ids": []string{}}}
		}},
	{"delete role", "admin:roles", 204,
		func(f *delegationFixture) request {
			return request{"DELETE", "/api/v1/roles/" + f.newRole(f.scopes...), nil}
		},
		func(f *delegationFixture) request {
			return request{"DELETE", "/api/v1/roles/" + f.newRole("admin:system"), nil}
		}},

	// Scopes.
	{"create scope", "admin:roles", 201,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/roles/scopes", map[string]any{"name": f.implied("read")}}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/roles/scopes", map[string]any{"name": "reports:read"}}
		}},
	{"rename scope", "admin:roles", 200,
		func(f *delegationFixture) request {
			old := f.newScope(f.implied("read"))
			return request{"PUT", "/api/v1/roles/scopes/" + old, map[string]any{"name": "write:" + rbac.Resource(old)}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/scopes/market:data", map[string]any{"name": "market:quotes"}}
		}},
	{"rename scope to one not held", "admin:roles", 200,
		func(f *delegationFixture) request {
			old := f.newScope(f.implied("read"))
			return request{"PUT", "/api/v1/roles/scopes/" + old, map[string]any{"name": "write:" + rbac.Resource(old)}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/scopes/" + f.newScope(f.implied("read")), map[string]any{"name": "admin:everything"}}
		}},
	{"update scope", "admin:roles", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/scopes/" + f.newScope(f.implied("read")), map[string]any{"description": "d"}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/roles/scopes/trade:open", map[string]any{"description": "d"}}
		}},
	{"delete scope", "admin:roles", 204,
		func(f *delegationFixture) request {
			return request{"DELETE", "/api/v1/roles/scopes/" + f.newScope(f.implied("read")), nil}
		},
		func(f *delegationFixture) request {
			// Held only by the clients that hold every scope: deletable by
			// a holder.
			return request{"DELETE", "/api/v1/roles/scopes/trade:modify", nil}
		}},

	// Users.
	{"create user", "admin:users", 201,
		func(f *delegationFixture) request {
			n := f.unique("new")
			return request{"POST", "/api/v1/users", map[string]any{"username": n, "email": n + "@example.com", "password": goodPassword, "role_ids": []string{f.within}}}
		},
		func(f *delegationFixture) request {
			n := f.unique("new")
			return request{"POST", "/api/v1/users", map[string]any{"username": n, "email": n + "@example.com", "password": goodPassword, "role_ids": []string{"admin"}}}
		}},
	{"update user", "admin:users", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.newUser(f.within), map[string]any{"email": f.unique("moved") + "@example.com", "is_active": false}}
		},
		func(f *delegationFixture) request {
			// A new email on an admin would let a password reset take the account.
			return request{"PUT", "/api/v1/users/" + f.highUser, map[string]any{"email": "attacker@example.com"}}
		}},
	{"update user granting roles", "admin:users", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.newUser(), map[string]any{"role_ids": []string{f.within}}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.newUser(), map[string]any{"role_ids": []string{"admin"}}}
		}},
	{"delete user", "admin:users", 204,
		func(f *delegationFixture) request {
			return request{"DELETE", "/api/v1/users/" + f.newUser(f.within), nil}
		},
		func(f *delegationFixture) request { return request{"DELETE", "/api/v1/users/" + f.highUser, nil} }},
	{"set user password", "admin:users", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.newUser(f.within) + "/password", map[string]any{"new_password": "Another!Meadow-43"}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.highUser + "/password", map[string]any{"new_password": "Another!Meadow-43"}}
		}},
	{"unlock user", "admin:users", 200,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/users/" + f.newUser(f.within) + "/unlock", nil}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/users/" + f.highUser + "/unlock", nil}
		}},
	{"set user roles", "admin:users", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.newUser() + "/roles", map[string]any{"role_ids": []string{f.within}}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.newUser() + "/roles", map[string]any{"role_ids": []string{f.within, "admin"}}}
		}},
	{"set roles of a user holding more", "admin:users", 200,
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.newUser(f.within) + "/roles", map[string]any{"role_ids": []string{}}}
		},
		func(f *delegationFixture) request {
			return request{"PUT", "/api/v1/users/" + f.highUser + "/roles", map[string]any{"role_ids": []string{}}}
		}},
	{"add user role", "admin:users", 200,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/users/" + f.newUser() + "/roles", map[string]any{"role_name": f.within}}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/users/" + f.newUser() + "/roles", map[string]any{"role_name": "admin"}}
		}},
	{"remove user role", "admin:users", 200,
		func(f *delegationFixture) request {
			return request{"DELETE", "/api/v1/users/" + f.newUser(f.within) + "/roles/" + f.within, nil}
		},
		func(f *delegationFixture) request {
			return request{"DELETE", "/api/v1/users/" + f.highUser + "/roles/admin", nil}
		}},

	// Sessions.
	{"end a user's session", "admin:sessions", 200,
		func(f *delegationFixture) request {
			s, _ := f.session(f.newUser(f.within))
			return request{"DELETE", "/api/v1/sessions/" + s, nil}
		},
		func(f *delegationFixture) request { return request{"DELETE", "/api/v1/sessions/" + f.highSession, nil} }},
	{"renew a user's session", "admin:sessions", 200,
		func(f *delegationFixture) request {
			s, _ := f.session(f.newUser(f.within))
			return request{"POST", "/api/v1/sessions/" + s + "/renew", nil}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/sessions/" + f.highSession + "/renew", nil}
		}},
	{"clean up sessions", "admin:sessions", 200,
		func(f *delegationFixture) request { return request{"POST", "/api/v1/sessions/cleanup", nil} }, nil},

	// Tokens and the system: the caller's own token is theirs to revoke;
	// another's needs admin:tokens, which no partial admin here holds.
	{"revoke a token", "", 200,
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/auth/revoke", map[string]any{"token": f.ts.token(f.id, f.secret, nil)}}
		},
		func(f *delegationFixture) request {
			return request{"POST", "/api/v1/auth/revoke", map[string]any{"token": f.highAccess}}
		}},
	{"rotate signing keys", "admin:system", 201,
		func(f *delegationFixture) request { return request{"POST", "/api/v1/admin/keys/rotate", nil} }, nil},
	{"maintenance cleanup", "admin:system", 200,
		func(f *delegationFixture) request { return request{"POST", "/api/v1/admin/maintenance/cleanup", nil} }, nil},
}

func TestDelegationTable(t *testing.T) {
	t.Parallel()
	for _, pa := range partialAdmins {
		t.Run(pa.name, func(t *testing.T) {
			t.Parallel()
			ts := hashingServer(t)
			f := &delegationFixture{ts: ts, t: t, admin: ts.adminToken(), scopes: pa.scopes}
			f.id, f.secret = ts.createClient(map[string]any{"name": pa.name, "client_id": "partial-" + pa.name, "scope_ids": pa.scopes})
			f.token = ts.token(f.id, f.secret, nil)
			f.within = f.newRole(pa.scopes...)
			f.highClient = f.newClient("admin:system")
			f.highUser = f.newUser("admin")
			f.highSession, f.highAccess = f.session(f.highUser)

			for _, c := range delegationCases {
				held := c.gate == "" || slices.Contains(pa.scopes, c.gate)
				run := func(kind string, build func(*delegationFixture) request, allowed bool) {
					t.Run(c.name+"/"+kind, func(t *testing.T) {
						// Helpers fail the subtest that calls them.
						parent, pts := f.t, f.ts
						sub := *ts
						sub.t = t
						f.t, f.ts = t, &sub
						defer func() { f.t, f.ts, f.dry = parent, pts, false }()
						f.dry = !held && c.gate != ""
						req := build(f)
						r := f.ts.jsonReq(req.method, req.path, f.token, req.body)
						switch {
						case allowed:
							if r.Status != c.ok {
								t.Fatalf("%s %s: %d, want %d: %s", req.method, req.path, r.Status, c.ok, r.Body)
							}
						case r.Status != http.StatusForbidden:
							t.Fatalf("%s %s: %d, want 403: %s", req.method, req.path, r.Status, r.Body)
						case !held && c.gate != "":
							if !strings.Contains(string(r.Body), c.gate) {
								t.Fatalf("refusal does not name %s: %s", c.gate, r.Body)
							}
						default:
							missing, _ := r.JSON["missing_scopes"].([]any)
							if len(missing) == 0 && r.str("error") != "forbidden" {
								t.Fatalf("refusal names no missing scope: %s", r.Body)
							}
						}
					})
				}
				run("within", c.within, held)
				if c.beyond != nil {
					run("beyond", c.beyond, false)
				}
			}
		})
	}
}
