module github.com/permiso-auth/permiso/examples/trading/dashboard/e2e

go 1.26.0

require github.com/chromedp/chromedp v0.23.0

require github.com/go-jose/go-jose/v4 v4.1.9 // indirect

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/permiso-auth/permiso/sdk v0.0.0
)

replace github.com/permiso-auth/permiso/sdk => ../../../../sdk
