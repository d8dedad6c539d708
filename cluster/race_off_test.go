//go:build !race

package cluster

// raceEnabled: the race detector allocates on its own.
const raceEnabled = false
