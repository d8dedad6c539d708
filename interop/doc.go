// Package interop tests the wsserver command and library against real
// WebSocket clients: Node.js's ws, Python's websockets and headless
// Chromium. It has no code of its own; see the _test.go files, the client
// scripts in node/ and python/, and the README's "Tests" section.
//
// A client that is not installed is skipped with the reason, unless CI=true,
// where it fails the test. ./scripts/test.sh installs them all.
package interop
