package api

import "net/http"

// mountClients is written by the resource's owner.
func (a *API) mountClients(mux *http.ServeMux) {}
