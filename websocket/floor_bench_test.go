//go:build linux

package websocket_test

import (
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkLoopbackWriteFloor is the least a delivery can cost the server
// on loopback: one write syscall of a small WebSocket text frame (a pub
// push, 132 bytes) to each of 1,000 TCP connections in turn, with nothing
// else, the peers draining them in their own goroutines. On loopback the
// kernel's work for the receiving end runs in the sender's write, so
// cpu-ns/write, the writing thread's CPU time per write, is the floor
// under the server CPU per delivery that `herald bench` measures
// (docs/benchmarks.md). Linux only.
func BenchmarkLoopbackWriteFloor(b *testing.B) {
	const conns = 1000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var readers sync.WaitGroup
	fds := make([]int, 0, conns)
	var servers []net.Conn
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		readers.Go(func() { _, _ = io.Copy(io.Discard, c); c.Close() })
		raw, _ := s.(*net.TCPConn).SyscallConn()
		_ = raw.Control(func(fd uintptr) { fds = append(fds, int(fd)) })
		servers = append(servers, s)
	}
	frame := append([]byte{0x81, 126, 0, 128}, make([]byte, 128)...)
	// Wall time on a shared machine is mostly waiting for a core; the
	// writing thread's own CPU time (user and kernel) is the figure.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var t0, t1 unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0)
	n := 0
	for i := 0; b.Loop(); i++ {
		n++
		for {
			_, err := syscall.Write(fds[i%conns], frame)
			if err != syscall.EAGAIN && err != syscall.EINTR {
				break
			}
		}
	}
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1)
	b.ReportMetric(float64(t1.Nano()-t0.Nano())/float64(n), "cpu-ns/write")
	for _, s := range servers {
		s.Close()
	}
	readers.Wait()
}
