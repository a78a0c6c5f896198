package websocket

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"
)

// epollSupported says whether this platform has the epoll read path.
const epollSupported = true

// poller watches the idle connections of the epoll engine for input: one
// epoll instance and one goroutine for the process, however many
// connections. A connection is armed one-shot; when it becomes readable
// the poller starts a goroutine that reads and handles what came and
// re-arms it (reader.go), so an idle connection has no goroutine and no
// read buffer. The goroutine ends when the last connection is gone, so
// a test's leak check sees none.
type poller struct {
	mu      sync.Mutex
	epfd    int
	wake    int // an eventfd that ends epoll_wait when the last conn goes
	conns   map[uint32]*conn
	next    uint32
	running bool
}

var thePoller poller

// epollEvents are what a connection is armed for: input, the peer's
// shutdown, errors; one-shot, so that one reader runs at a time.
const epollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// add registers c, whose descriptor is fd, and arms it.
func (p *poller) add(c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return err
		}
		wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			unix.Close(epfd)
			return err
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake), Pad: 0}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
			unix.Close(epfd)
			unix.Close(wake)
			return err
		}
		p.epfd, p.wake, p.conns = epfd, wake, map[uint32]*conn{}
	}
	// Ids start at 1: 0 in an event is the wake-up descriptor.
	for p.next++; p.next == 0 || p.conns[p.next] != nil; p.next++ {
	}
	c.id = p.next
	var err error
	cerr := c.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: epollEvents, Fd: int32(fd), Pad: int32(c.id)}
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	p.conns[c.id] = c
	if !p.running {
		p.running = true
		go p.loop()
	}
	return nil
}

// arm waits for c's next input.
func (p *poller) arm(c *conn) {
	_ = c.raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: epollEvents, Fd: int32(fd), Pad: int32(c.id)}
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fd), &ev)
	})
}

// remove stops watching c. It must come before the descriptor is closed:
// once closed, its number may be another connection's.
func (p *poller) remove(c *conn) {
	_ = c.raw.Control(func(fd uintptr) {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[c.id] != c {
		return
	}
	delete(p.conns, c.id)
	if len(p.conns) == 0 && p.running {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(p.wake, one[:])
	}
}

func (p *poller) loop() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil && err != unix.EINTR {
			// Not expected with a valid epfd; the connections keep their
			// registrations and a new loop starts with the next add.
			p.mu.Lock()
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd == int32(p.wake) && ev.Pad == 0 {
				var b [8]byte
				_, _ = unix.Read(p.wake, b[:])
				continue
			}
			if c := p.conns[uint32(ev.Pad)]; c != nil {
				c.readable()
			}
		}
		if len(p.conns) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
