// Package cluster holds the cluster benchmarks of issue 13 (go test -bench
// . ./cluster in bench/): one broadcast to 9,000 clients over three nodes
// joined by embedded NATS against 9,000 on one node, and topic publish
// throughput through embedded NATS and Redis beside the brokers' own
// loopback pub/sub rate.
package cluster
