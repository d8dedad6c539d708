package cluster_test

import (
	"testing"

	"github.com/wsserver/wsserver/cluster"
	"github.com/wsserver/wsserver/cluster/clustertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A server's event loops stop about a second after their last connection.
		goleak.IgnoreAnyFunction("github.com/wsserver/wsserver/internal/transport.(*poller).loop"),
	)
}

// TestMemoryHub runs the cluster suite (issue 13's Tests) on in-memory
// engines joined by a Hub: the cluster layer's behaviour without a broker.
func TestMemoryHub(t *testing.T) {
	var engines []*cluster.Memory
	clustertest.Run(t, clustertest.Setup{
		Engines: func(t *testing.T, n int) []cluster.Engine {
			hub := cluster.NewHub()
			engines = engines[:0]
			var list []cluster.Engine
			for range n {
				e := hub.Engine()
				engines = append(engines, e)
				list = append(list, e)
			}
			return list
		},
		Cut:     func(t *testing.T, i int) { engines[i].SetConnected(false) },
		Restore: func(t *testing.T, i int) { engines[i].SetConnected(true) },
		Kill:    func(t *testing.T, i int) { engines[i].SetConnected(false) },
	})
}
