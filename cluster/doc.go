// Package cluster runs one wsserver application on several processes as if
// they were one server: a Node joins a wsserver.Server to the others
// through an Engine (a publish/subscribe broker client) and offers
// Broadcast to every connection of every node, topics that connections
// subscribe to (Subscribe, Publish), Send and Disconnect to a connection on
// any node by its cluster-wide ConnID ("node:id"), and presence: the live
// nodes with their connection counts from heartbeats (Nodes,
// ConnectionCount), the cluster-wide connection list (Connections), and
// NodeJoined/NodeLeft events.
//
// Engines: the in-memory engine here (NewMemory, the default: a single
// node, nothing carried; NewHub joins several in one process), and in their
// own modules cluster/nats (external NATS, or embedded nats-servers joined
// by routes) and cluster/redis (Redis pub/sub, or a Redis Cluster's
// sharded pub/sub).
//
// Each message crosses the broker once per node with interest (one engine
// subscription per topic per node, reference-counted over its
// connections) and is framed and compressed once per node
// (Server.BroadcastTo). Delivery is at most once and ordered per publisher
// and topic. Delivery to local connections never blocks: a client whose
// queue is full misses the message (Stats.LocalDropped). A lost broker
// connection keeps local delivery working; the engine reconnects and
// subscribes again by itself, and the node reports the outage and counts
// the messages that never arrived from per-sender sequence numbers
// (Events.OnError, Stats.Lost). A node that stops heartbeating is dropped
// after Config.NodeTimeout.
package cluster
