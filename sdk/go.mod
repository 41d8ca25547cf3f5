module github.com/permiso-auth/permiso/sdk

go 1.26.0
