module github.com/permiso-auth/permiso/examples/trading

go 1.26.0

require github.com/permiso-auth/permiso/sdk v0.0.0

require (
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
)

replace github.com/permiso-auth/permiso/sdk => ../../sdk
