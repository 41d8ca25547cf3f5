// Package rbac owns scopes and roles as policy: the default set Permiso
// seeds, scope-name rules, and the scopes a user holds through roles. The
// implied-scope rule itself lives in sdk/wire (HasScope) so the server and
// the SDK's guard can never disagree on it.
package rbac
