package api

import "net/http"

// mountScopes is written by the resource's owner.
func (a *API) mountScopes(mux *http.ServeMux) {}
