package server

import (
	"context"
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/oauth"
)

// ops holds the operational parts: metrics, rate limits and their wiring.
type ops struct{}

func newOps(ctx context.Context, s *Server) (*ops, error) { return &ops{}, nil }

// limiter returns the rate limiter for the protocol, or nil for none.
func (o *ops) limiter() oauth.Limiter { return nil }

// observer returns the protocol's metric hooks.
func (o *ops) observer() oauth.Observer { return oauth.Observer{} }

// requestDone is called after every request, for HTTP metrics.
func (o *ops) requestDone(r *http.Request, status int, d time.Duration) {}

// mount registers operational endpoints (metrics).
func (o *ops) mount(mux *http.ServeMux) {}
