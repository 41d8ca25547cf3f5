package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
)

const auditAPI = "/api/v1/admin/audit/events"

// overview shows counts and the latest failed or denied events. Each part
// that the API refuses says so in place, so a user with some admin scopes
// still gets the rest.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, sess *session) error {
	data := struct {
		Stats       apitype.DashboardStats
		StatsError  string
		Events      []apitype.AuditEvent
		EventsError string
	}{}
	if err := c.getJSON(r, sess, "/api/v1/admin/dashboard/stats", &data.Stats); err != nil {
		if err == errSignedOut {
			return err
		}
		data.StatsError = errorText(err)
	}
	for _, outcome := range []string{"failure", "denied"} {
		var list apitype.AuditList
		if err := c.getJSON(r, sess, auditAPI+"?per_page=10&outcome="+outcome, &list); err != nil {
			if err == errSignedOut {
				return err
			}
			data.EventsError = errorText(err)
			break
		}
		data.Events = append(data.Events, list.Events...)
	}
	slices.SortFunc(data.Events, func(a, b apitype.AuditEvent) int { return b.Time.Compare(a.Time) })
	if len(data.Events) > 10 {
		data.Events = data.Events[:10]
	}
	c.render(w, r, http.StatusOK, "overview", sess, data)
	return nil
}

func (c *Console) sessionsPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	data := struct {
		Stats      apitype.SessionStats
		StatsError string
		Sessions   []apitype.Session
	}{}
	var own apitype.SessionList
	if err := c.getJSON(r, sess, "/api/v1/sessions", &own); err != nil {
		return err
	}
	data.Sessions = own.Sessions
	if err := c.getJSON(r, sess, "/api/v1/sessions/stats", &data.Stats); err != nil {
		if err == errSignedOut {
			return err
		}
		data.StatsError = errorText(err)
	}
	c.render(w, r, http.StatusOK, "sessions", sess, data)
	return nil
}

func (c *Console) sessionsCleanup(r *http.Request, sess *session) (string, *flash, error) {
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: "/api/v1/sessions/cleanup"})
	if err != nil {
		return Path + "/sessions", nil, err
	}
	if err := res.Err(); err != nil {
		return Path + "/sessions", nil, err
	}
	var out apitype.SessionsCleaned
	_ = res.Decode(&out)
	return Path + "/sessions", &flash{Kind: "ok", Message: "Expired sessions removed: " + strconv.Itoa(out.Cleaned) + "."}, nil
}

func (c *Console) sessionEnd(r *http.Request, sess *session) (string, *flash, error) {
	err := c.send(r, sess, http.MethodDelete, "/api/v1/sessions/"+url.PathEscape(r.PathValue("id")), nil)
	return Path + "/sessions", &flash{Kind: "ok", Message: "Session ended; its tokens were revoked."}, err
}

func (c *Console) keysPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	var out apitype.KeyList
	if err := c.getJSON(r, sess, "/api/v1/admin/keys", &out); err != nil {
		return err
	}
	slices.Reverse(out.Keys) // newest first
	c.render(w, r, http.StatusOK, "keys", sess, out)
	return nil
}

func (c *Console) keyRotate(r *http.Request, sess *session) (string, *flash, error) {
	var body apitype.KeyRotation
	if r.PostFormValue("when") == "now" {
		body.DelaySeconds = ptr(int64(0))
	}
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: "/api/v1/admin/keys/rotate", JSON: body})
	if err != nil {
		return Path + "/keys", nil, err
	}
	if err := res.Err(); err != nil {
		return Path + "/keys", nil, err
	}
	var k apitype.Key
	_ = res.Decode(&k)
	return Path + "/keys", &flash{Kind: "ok", Message: "New key " + k.KID + " published; it signs from " + k.ActivatesAt.UTC().Format(time.RFC3339) + "."}, nil
}

// auditFilter is the audit page's form.
type auditFilter struct {
	Type, Outcome, Actor, Target, Since, Until string
}

// toRFC3339 reads a datetime-local value (taken as UTC) or an RFC 3339 time.
func toRFC3339(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC().Format(time.RFC3339), true
		}
	}
	return "", false
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	in := r.URL.Query()
	f := auditFilter{Type: in.Get("type"), Outcome: in.Get("outcome"), Actor: in.Get("actor"),
		Target: in.Get("target"), Since: in.Get("since"), Until: in.Get("until")}
	q := url.Values{"page": {strconv.Itoa(pageParam(r))}, "per_page": {"50"}}
	keep := url.Values{}
	for name, v := range map[string]string{"type": f.Type, "outcome": f.Outcome, "actor": f.Actor, "target": f.Target} {
		if v = strings.TrimSpace(v); v != "" {
			q.Set(name, v)
			keep.Set(name, v)
		}
	}
	var problem string
	for name, v := range map[string]string{"since": f.Since, "until": f.Until} {
		t, ok := toRFC3339(v)
		if !ok {
			problem = "Times are written like 2026-11-29T14:05 (UTC)."
			continue
		}
		if t != "" {
			q.Set(name, t)
			keep.Set(name, v)
		}
	}
	var list apitype.AuditList
	if problem == "" {
		if err := c.getJSON(r, sess, auditAPI+"?"+q.Encode(), &list); err != nil {
			return err
		}
	}
	c.render(w, r, http.StatusOK, "audit", sess, struct {
		listData[apitype.AuditList]
		Filter  auditFilter
		Problem string
	}{listData[apitype.AuditList]{List: list, Base: Path + "/audit", Query: keep}, f, problem})
	return nil
}
