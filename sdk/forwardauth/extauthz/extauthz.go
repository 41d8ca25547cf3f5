package extauthz

import (
	"context"
	"net/http"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/forwardauth"
)

// Server is an envoy.service.auth.v3.Authorization server.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	svc *forwardauth.Service
}

// New returns a Server deciding with svc.
func New(svc *forwardauth.Service) *Server { return &Server{svc: svc} }

// Register registers s on a gRPC server.
func (s *Server) Register(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, s) }

// Check decides the HTTP request Envoy describes. An allowed request gets
// OK with the identity headers set on the upstream request (and those that
// do not apply removed, so a client's never pass); a refused one gets
// UNAUTHENTICATED or PERMISSION_DENIED with the status, challenge and JSON
// body Envoy sends to the client.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	h := req.GetAttributes().GetRequest().GetHttp()
	if h == nil {
		d := forwardauth.Decision{Status: http.StatusForbidden, Code: "invalid_request",
			Description: "The check request describes no HTTP request"}
		return denied(&d), nil
	}
	hdr := make(http.Header, len(h.GetHeaders()))
	for k, v := range h.GetHeaders() {
		hdr.Set(k, v)
	}
	host := h.GetHost()
	if host == "" {
		host = hdr.Get(":authority")
	}
	r := &forwardauth.Request{
		Method:        h.GetMethod(),
		Host:          host,
		URI:           h.GetPath(),
		Scheme:        h.GetScheme(),
		Authorization: hdr.Get("Authorization"),
		Header:        hdr,
	}
	// With include_peer_certificate, Envoy hands over the client's
	// certificate (URL-encoded PEM) for certificate-bound tokens.
	if pem := req.GetAttributes().GetSource().GetCertificate(); pem != "" {
		if chain, err := clientcert.ParseEscapedPEM(pem); err == nil && len(chain) > 0 {
			r.Certificate = chain[0]
		}
	}
	d := s.svc.Decide(ctx, r)
	if !d.Allowed() {
		return denied(&d), nil
	}
	names := s.svc.Table().Headers()
	set := d.Identity(names)
	ok := &authv3.OkHttpResponse{}
	present := map[string]bool{}
	for _, kv := range set {
		present[kv[0]] = true
		ok.Headers = append(ok.Headers, header(kv[0], kv[1]))
	}
	for _, n := range names.Names() {
		if !present[n] {
			ok.HeadersToRemove = append(ok.HeadersToRemove, n)
		}
	}
	if d.DPoPNonce != "" {
		ok.ResponseHeadersToAdd = append(ok.ResponseHeadersToAdd, header(dpop.HeaderNonce, d.DPoPNonce))
	}
	return &authv3.CheckResponse{
		Status:       &status.Status{Code: int32(codes.OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}, nil
}

func header(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func denied(d *forwardauth.Decision) *authv3.CheckResponse {
	code := codes.PermissionDenied
	if d.Status == http.StatusUnauthorized {
		code = codes.Unauthenticated
	} else if d.Status == http.StatusServiceUnavailable {
		code = codes.Unavailable
	}
	headers := []*corev3.HeaderValueOption{
		header("Content-Type", "application/json"),
		header("Cache-Control", "no-store"),
	}
	if d.Challenge != "" {
		headers = append(headers, header("WWW-Authenticate", d.Challenge))
	}
	if d.DPoPNonce != "" {
		headers = append(headers, header(dpop.HeaderNonce, d.DPoPNonce))
	}
	if d.Status == http.StatusServiceUnavailable {
		headers = append(headers, header("Retry-After", "5"))
	}
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(code), Message: d.Description},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(d.Status)},
			Headers: headers,
			Body:    string(d.JSON()),
		}},
	}
}
