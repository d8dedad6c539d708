package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/wsserver/wsserver/cluster"
	natsengine "github.com/wsserver/wsserver/cluster/nats"
	redisengine "github.com/wsserver/wsserver/cluster/redis"
)

// clusterOptions are the --cluster flags: join other wsserver processes
// through NATS (external, or embedded with routes) or Redis.
type clusterOptions struct {
	url    string // --cluster: nats://HOST:PORT, redis://HOST:PORT or redis+cluster://HOST:PORT,...
	listen string // --cluster-listen: run an embedded NATS, routes on ADDR
	routes string // --cluster-routes: the other embedded servers' route URLs
	nodeID string // --node-id
}

func (c clusterOptions) enabled() bool { return c.url != "" || c.listen != "" }

// check validates the flags, for parseArgs.
func (c clusterOptions) check() error {
	switch {
	case c.url != "" && c.listen != "":
		return errors.New("--cluster and --cluster-listen exclude each other: join a broker, or run the embedded NATS")
	case c.routes != "" && c.listen == "":
		return errors.New("--cluster-routes needs --cluster-listen")
	case c.nodeID != "" && !c.enabled():
		return errors.New("--node-id needs --cluster or --cluster-listen")
	}
	if c.url != "" {
		u, err := url.Parse(c.url)
		if err != nil || u.Host == "" {
			return fmt.Errorf("--cluster %q: want nats://HOST:PORT, redis://HOST:PORT or redis+cluster://HOST:PORT,HOST:PORT", c.url)
		}
		if !engineSchemes[u.Scheme] {
			return fmt.Errorf("--cluster %q: unknown scheme %q (nats, tls, redis, rediss, redis+cluster, rediss+cluster)", c.url, u.Scheme)
		}
	}
	if c.listen != "" {
		if _, _, err := net.SplitHostPort(c.listen); err != nil {
			return fmt.Errorf("--cluster-listen %q: want HOST:PORT", c.listen)
		}
	}
	return nil
}

// engineSchemes are the --cluster URL schemes an engine is built in for.
var engineSchemes = map[string]bool{"nats": true, "tls": true, "redis": true, "rediss": true, "redis+cluster": true, "rediss+cluster": true}

// newEngine makes the engine the flags ask for.
func (c clusterOptions) newEngine() (cluster.Engine, error) {
	if c.listen != "" {
		var routes []string
		for _, r := range strings.Split(c.routes, ",") {
			if r = strings.TrimSpace(r); r != "" {
				routes = append(routes, r)
			}
		}
		return natsengine.Embedded(natsengine.ServerConfig{Name: c.nodeID, ClusterListen: c.listen, Routes: routes})
	}
	u, _ := url.Parse(c.url)
	if strings.HasPrefix(u.Scheme, "redis") { // redis, rediss, and their +cluster forms
		return redisengine.Connect(c.url)
	}
	return natsengine.New(natsengine.Options{URL: c.url, Name: "wsserver " + c.nodeID})
}

// joinCluster joins the cluster the flags name, if any.
func (a *app) joinCluster() error {
	c := a.opts.cluster
	if !c.enabled() {
		return nil
	}
	eng, err := c.newEngine()
	if err != nil {
		return err
	}
	node, err := cluster.Join(a.srv, eng, cluster.Config{
		NodeID: c.nodeID,
		Events: cluster.Events{
			OnNodeJoined: func(n cluster.NodeInfo) {
				a.log.Info("cluster: node joined", "node", n.ID, "connections", n.Connections)
			},
			OnNodeLeft: func(id, reason string) {
				a.log.Info("cluster: node left", "node", id, "reason", reason)
			},
			OnError: func(err error) { a.log.Warn("cluster", "err", err) },
		},
	})
	if err != nil {
		eng.Close()
		return err
	}
	a.node = node
	a.log.Info("cluster: joined", "node", node.ID())
	return nil
}

// leaveCluster leaves it at shutdown.
func (a *app) leaveCluster() error {
	if a.node == nil {
		return nil
	}
	return a.node.Close()
}

// clusterSnapshot is the cluster part of /connections and /events.
type clusterSnapshot struct {
	Node        string        `json:"node"`
	Connections int           `json:"connections"` // cluster-wide, from the heartbeats
	Nodes       []clusterNode `json:"nodes"`
}

type clusterNode struct {
	ID          string `json:"id"`
	Connections int    `json:"connections"`
}

// clusterInfo returns the cluster part of the snapshot, nil without one.
func (a *app) clusterInfo() *clusterSnapshot {
	if a.node == nil {
		return nil
	}
	cs := &clusterSnapshot{Node: a.node.ID()}
	for _, n := range a.node.Nodes() {
		cs.Nodes = append(cs.Nodes, clusterNode{ID: n.ID, Connections: n.Connections})
		cs.Connections += n.Connections
	}
	return cs
}

// nodeID is the node of this process's connections, "" without a cluster.
func (a *app) nodeID() string {
	if a.node == nil {
		return ""
	}
	return a.node.ID()
}
