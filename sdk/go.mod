module github.com/permiso-auth/permiso/sdk

go 1.26.0

require (
	github.com/go-jose/go-jose/v4 v4.1.9
	golang.org/x/oauth2 v0.38.0
	golang.org/x/sync v0.25.0
)

require go.yaml.in/yaml/v3 v3.0.6
