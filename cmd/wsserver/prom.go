package main

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// /metrics serves the library's Server.Metrics of the /ws server, and a
// few of the command's own gauges, in the Prometheus text format. The
// numbers are read when Prometheus scrapes (a collector, not counters the
// handlers would update), so the command does no work per message for
// them. Names follow Prometheus' conventions: the wsserver_ prefix, _total
// for counters, base units (bytes, seconds).

var (
	descConnections = prometheus.NewDesc("wsserver_connections",
		"Open WebSocket connections.", nil, nil)
	descAccepted = prometheus.NewDesc("wsserver_connections_accepted_total",
		"Connections that completed the opening handshake.", nil, nil)
	descRefused = prometheus.NewDesc("wsserver_connections_refused_total",
		"TCP connections turned away before the handshake, by reason (max_connections, filtered).", []string{"reason"}, nil)
	descHandshakeFailures = prometheus.NewDesc("wsserver_handshake_failures_total",
		"Opening handshakes answered with an HTTP error, by status.", []string{"status"}, nil)
	descMsgsIn = prometheus.NewDesc("wsserver_messages_received_total",
		"Text and binary messages received.", nil, nil)
	descMsgsOut = prometheus.NewDesc("wsserver_messages_sent_total",
		"Text and binary messages sent (a broadcast counts once per recipient).", nil, nil)
	descBytesIn = prometheus.NewDesc("wsserver_received_bytes_total",
		"Payload bytes received (after decompression).", nil, nil)
	descBytesOut = prometheus.NewDesc("wsserver_sent_bytes_total",
		"Payload bytes sent (before compression).", nil, nil)
	descCloses = prometheus.NewDesc("wsserver_disconnects_total",
		"Closed connections by close code (1006: dropped without a close frame).", []string{"code"}, nil)
	descSendsRefused = prometheus.NewDesc("wsserver_sends_refused_total",
		"Sends refused with 10035 (WSAEWOULDBLOCK) because the connection's queue was full.", nil, nil)
	descQueued = prometheus.NewDesc("wsserver_queued_bytes",
		"Bytes queued in the library for the open connections and not yet written.", nil, nil)
	descOutbox = prometheus.NewDesc("wsserver_outbox_bytes",
		"Bytes waiting in the command's outboxes for connections whose queue was full.", nil, nil)
	descBroadcast = prometheus.NewDesc("wsserver_broadcast_duration_seconds",
		"Time Broadcast calls took to queue a message for every recipient.", nil, nil)
	descRecipients = prometheus.NewDesc("wsserver_broadcast_recipients_total",
		"Connections Broadcast calls reached.", nil, nil)
	descRTT = prometheus.NewDesc("wsserver_ping_rtt_seconds",
		"Round trips of pings that a pong answered.", nil, nil)
	descWatchers = prometheus.NewDesc("wsserver_monitor_watchers",
		"Open /events connections.", nil, nil)
)

// collector reads the metrics when Prometheus scrapes.
type collector struct{ a *app }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descAccepted, descRefused, descHandshakeFailures,
		descMsgsIn, descMsgsOut, descBytesIn, descBytesOut, descCloses, descSendsRefused, descQueued,
		descOutbox, descBroadcast, descRecipients, descRTT, descWatchers} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.a.srv.Metrics()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descConnections, float64(m.Connections))
	counter(descAccepted, m.Accepted)
	for reason, n := range m.Refused {
		counter(descRefused, n, reason)
	}
	for status, n := range m.HandshakeFailures {
		counter(descHandshakeFailures, n, strconv.Itoa(status))
	}
	counter(descMsgsIn, m.MessagesIn)
	counter(descMsgsOut, m.MessagesOut)
	counter(descBytesIn, m.BytesIn)
	counter(descBytesOut, m.BytesOut)
	for code, n := range m.Closes {
		counter(descCloses, n, strconv.Itoa(code))
	}
	counter(descSendsRefused, m.SendsRefused)
	gauge(descQueued, float64(m.QueuedBytes))
	gauge(descOutbox, float64(c.a.outboxBytes()))
	ch <- prometheus.MustNewConstSummary(descBroadcast, m.Broadcasts, m.BroadcastTime.Seconds(), nil)
	counter(descRecipients, m.BroadcastRecipients)
	ch <- prometheus.MustNewConstSummary(descRTT, m.Pongs, m.PingRTT.Seconds(), nil)
	gauge(descWatchers, float64(c.a.feed.watchers.Load()))
}

// metricsHandler serves /metrics: the collector above, plus the Go
// runtime's and the process's (memory, CPU, open files) standard metrics.
func (a *app) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{a},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{a}})
}

// slogPrinter passes promhttp's errors to the command's log.
type slogPrinter struct{ a *app }

func (p slogPrinter) Println(v ...any) { p.a.log.Error("metrics", "err", fmt.Sprint(v...)) }
