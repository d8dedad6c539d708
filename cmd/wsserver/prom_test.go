package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape parses /metrics with the Prometheus text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q, want the text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// value returns the value of the family's sample whose labels match.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("/metrics has no %s", name)
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount())
		}
	}
	t.Fatalf("/metrics has no %s%v", name, labels)
	return 0
}

// Issue 12: /metrics serves the library's metrics in the Prometheus text
// format with conventional names, and they match the traffic the test made:
// messages and bytes each way, a close by code, a handshake failure by
// status, a connection refused at --max-connections, broadcasts with their
// recipients, and a ping's round trip.
func TestMetricsEndpoint(t *testing.T) {
	ta := startApp(t, "--max-connections", "3", "broadcast")
	a, b := dial(t, ta.ws), dial(t, ta.ws)
	eventually(t, "two connections are registered", func() bool { return ta.registered() == 2 })
	for range 3 {
		a.WriteMessage(websocket.TextMessage, []byte("12345"))
		read(t, b)
	}
	// A ping from the server: gorilla answers it while it reads.
	idA := ta.srv.Connections()[0].ID()
	if err := ta.srv.Ping(idA); err != nil {
		t.Fatal(err)
	}
	b.WriteMessage(websocket.BinaryMessage, make([]byte, 100))
	read(t, a)
	eventually(t, "the pong is measured", func() bool { return ta.srv.Metrics().Pongs == 1 })
	c := dial(t, ta.ws)
	eventually(t, "three connections are registered", func() bool { return ta.registered() == 3 })
	// A fourth is one too many: 503, counted as refused.
	if _, resp, err := websocket.DefaultDialer.Dial(ta.ws, nil); err == nil {
		t.Fatal("a connection past --max-connections was accepted")
	} else if resp != nil {
		resp.Body.Close()
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4003, ""), time.Now().Add(time.Second))
	readClose(t, c)
	// A request that is no upgrade on /ws fails the handshake.
	resp, err := http.Get(ta.base + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, "the closed connection is counted", func() bool { return ta.srv.Metrics().Closes[4003] == 1 })
	// A client can read the last byte before the server's writer has
	// counted it off the queue: wait until the queues are empty.
	eventually(t, "the queues drain", func() bool { return ta.srv.Metrics().QueuedBytes == 0 })

	fams := scrape(t, ta.base)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"wsserver_connections", nil, 2},
		{"wsserver_connections_accepted_total", nil, 3},
		{"wsserver_messages_received_total", nil, 4},
		{"wsserver_received_bytes_total", nil, 3*5 + 100},
		{"wsserver_messages_sent_total", nil, 4},
		{"wsserver_sent_bytes_total", nil, 3*5 + 100},
		{"wsserver_disconnects_total", []string{"code", "4003"}, 1},
		{"wsserver_handshake_failures_total", []string{"status", resp.Status[:3]}, 1},
		{"wsserver_connections_refused_total", []string{"reason", "max_connections"}, 1},
		{"wsserver_connections_refused_total", []string{"reason", "filtered"}, 0},
		{"wsserver_sends_refused_total", nil, 0},
		{"wsserver_queued_bytes", nil, 0},
		{"wsserver_outbox_bytes", nil, 0},
		{"wsserver_broadcast_duration_seconds", nil, 4}, // the sample count: one a message
		{"wsserver_broadcast_recipients_total", nil, 4},
		{"wsserver_ping_rtt_seconds", nil, 1},
		{"wsserver_monitor_watchers", nil, 0},
	} {
		if got := value(t, fams, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if rtt := fams["wsserver_ping_rtt_seconds"].Metric[0].Summary.GetSampleSum(); rtt <= 0 || rtt > 60 {
		t.Errorf("ping round trips sum to %v s", rtt)
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
}
