module github.com/wsserver/wsserver/cmd/wsserver

go 1.26.0

require (
	github.com/gorilla/websocket v1.5.3
	github.com/wsserver/wsserver v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)

require (
	github.com/klauspost/compress v1.20.4 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	software.sslmate.com/src/go-pkcs12 v0.7.4 // indirect
)

replace github.com/wsserver/wsserver => ../..
