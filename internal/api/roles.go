package api

import "net/http"

// mountRoles is written by the resource's owner.
func (a *API) mountRoles(mux *http.ServeMux) {}
