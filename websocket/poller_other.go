//go:build !linux

package websocket

import "errors"

// epollSupported says whether this platform has the epoll read path; here
// every connection reads in its own goroutine (websocket.engine goroutine).
const epollSupported = false

type poller struct{}

var thePoller poller

func (p *poller) add(*conn) error { return errors.New("websocket: the epoll engine needs Linux") }
func (p *poller) arm(*conn)       {}
func (p *poller) remove(*conn)    {}
