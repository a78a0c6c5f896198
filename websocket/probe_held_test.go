package websocket_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/websocket"
)

// What a probe tried that held, kept so that it keeps holding: each attack
// gets its code, and a bystander subscriber loses no publication.

// rawWS is a WebSocket client that writes frames byte by byte as told,
// for frames no library would send.
type rawWS struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, ts *testServer, extensions string) *rawWS {
	t.Helper()
	c, err := net.DialTimeout("tcp", ts.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "GET /connection/websocket HTTP/1.1\r\nHost: " + ts.Listener.Addr().String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	return &rawWS{t: t, c: c, br: br}
}

// frame writes one frame: first is FIN, RSV and opcode; masked as a client
// must, unless told not to.
func (w *rawWS) frame(first byte, payload []byte, mask bool) {
	w.t.Helper()
	var b bytes.Buffer
	b.WriteByte(first)
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b.WriteByte(m | byte(n))
	case n < 1<<16:
		b.WriteByte(m | 126)
		_ = binary.Write(&b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(m | 127)
		_ = binary.Write(&b, binary.BigEndian, uint64(n))
	}
	p := append([]byte(nil), payload...)
	if mask {
		key := []byte{1, 2, 3, 4}
		b.Write(key)
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	b.Write(p)
	if _, err := w.c.Write(b.Bytes()); err != nil {
		w.t.Fatalf("write frame: %v", err)
	}
}

// readFrame reads the server's next frame: opcode and payload.
func (w *rawWS) readFrame() (byte, []byte) {
	w.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		w.t.Fatalf("no frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l uint16
		_ = binary.Read(w.br, binary.BigEndian, &l)
		n = int(l)
	case 127:
		var l uint64
		_ = binary.Read(w.br, binary.BigEndian, &l)
		n = int(l)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(w.br, p); err != nil {
		w.t.Fatalf("read frame: %v", err)
	}
	return h[0] & 0x0f, p
}

// closeCode reads the server's frames until its close and returns the code.
func (w *rawWS) closeCode() int {
	w.t.Helper()
	for {
		if op, p := w.readFrame(); op == 8 {
			if len(p) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

// bystander subscribes to a channel that the test publishes n
// publications to while the attacks run, and checks it got every one.
type bystander struct {
	t    *testing.T
	ts   *testServer
	c    *client
	sent int
}

func newBystander(t *testing.T, ts *testServer) *bystander {
	c := dialPonging(t, ts)
	c.connect()
	c.subscribe("bystander")
	return &bystander{t: t, ts: ts, c: c}
}

func (b *bystander) publish(n int) {
	for range n {
		b.sent++
		b.ts.publish(b.t, "bystander", strconv.Itoa(b.sent))
	}
}

func (b *bystander) check() {
	b.t.Helper()
	for i := 1; i <= b.sent; i++ {
		m := b.c.next()
		if got := pubPush(b.t, m, "bystander")["data"]; got != float64(i) {
			b.t.Fatalf("bystander: publication %v, want %d (lost or reordered)", got, i)
		}
	}
}

func TestProbeFramesHold(t *testing.T) {
	ts := startServer(t, hub.Config{MaxErrors: 1000}, websocket.Options{MaxMessageSize: 128 << 10, Compression: true})
	by := newBystander(t, ts)
	connect := []byte(`{"id":1,"connect":{}}`)

	t.Run("reserved opcode", func(t *testing.T) {
		w := dialRaw(t, ts, "")
		w.frame(0x80|0x3, []byte("x"), true)
		if got := w.closeCode(); got != 1002 {
			t.Fatalf("close %d, want 1002", got)
		}
	})
	by.publish(20)
	t.Run("unmasked frame", func(t *testing.T) {
		w := dialRaw(t, ts, "")
		w.frame(0x80|0x1, connect, false)
		if got := w.closeCode(); got != 1002 {
			t.Fatalf("close %d, want 1002", got)
		}
	})
	by.publish(20)
	t.Run("deflate bomb", func(t *testing.T) {
		// 60 MB of zeros deflate to about 76 KB: within the frame limit,
		// far past the message limit once inflated.
		var z bytes.Buffer
		fw, _ := flate.NewWriter(&z, flate.BestSpeed)
		zeros := make([]byte, 1<<20)
		for range 60 {
			_, _ = fw.Write(zeros)
		}
		_ = fw.Flush()
		p := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
		if len(p) > 128<<10 {
			t.Fatalf("the bomb is %d bytes on the wire, meant to fit the frame limit", len(p))
		}
		w := dialRaw(t, ts, "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
		w.frame(0x80|0x40|0x1, p, true)
		if got := w.closeCode(); got != 1009 {
			t.Fatalf("close %d, want 1009", got)
		}
	})
	by.publish(20)
	t.Run("deep nesting", func(t *testing.T) {
		c := dial(t, ts, nil)
		c.connect()
		deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
		c.send(`{"id":5,"publish":{"channel":"a","data":` + deep + `}}`)
		r := c.next()
		if r["error"] == nil && r["publish"] == nil {
			t.Fatalf("no answer to a deeply nested publish: %v", r)
		}
		if r := c.call("ping", `{}`); r["pong"] == nil {
			t.Fatalf("the connection must go on: %v", r)
		}
	})
	by.publish(20)
	by.check()
}

// Sockets that connect and never finish a handshake, and upgraded sockets
// that never send connect, cost the server descriptors only until their
// timeouts; meanwhile the bystander loses nothing.
func TestProbeIdleSocketsHold(t *testing.T) {
	ts := startServer(t, hub.Config{ConnectTimeout: 30 * time.Second}, websocket.Options{})
	by := newBystander(t, ts)
	const n = 200
	for range n {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	by.publish(50)
	for range n {
		ctx := t.Context()
		conn, _, err := cws.Dial(ctx, ts.wsURL(), nil)
		if err != nil {
			t.Fatalf("dial beside %d half-open sockets: %v", n, err)
		}
		defer conn.CloseNow()
	}
	by.publish(50)
	by.check()
}
