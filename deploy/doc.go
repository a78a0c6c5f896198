// Package deploy holds tested deployment examples: nginx/ and haproxy/ put
// several Herald nodes behind a load balancer, systemd/ runs a node as a
// service, container/ builds its image; docs/deployment.md explains them.
// The tests in this package start the real herald binary behind a real
// nginx and HAProxy, with the shipped configs and their ports replaced,
// and check what crosses them; the multi-node tests add a real Redis.
package deploy
