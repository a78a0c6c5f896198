package websocket_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/websocket"
)

// The epoll engine reads frames in whatever pieces the kernel hands over;
// these tests send frames split and joined in ways a library does not, on
// both engines, and expect the same answers.

var engines = []string{websocket.EngineEpoll, websocket.EngineGoroutine}

// encodeFrame is one masked client frame.
func encodeFrame(first byte, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteByte(first)
	switch n := len(payload); {
	case n < 126:
		b.WriteByte(0x80 | byte(n))
	case n < 1<<16:
		b.WriteByte(0x80 | 126)
		_ = binary.Write(&b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(0x80 | 127)
		_ = binary.Write(&b, binary.BigEndian, uint64(n))
	}
	key := []byte{9, 8, 7, 6}
	b.Write(key)
	for i, c := range payload {
		b.WriteByte(c ^ key[i%4])
	}
	return b.Bytes()
}

func (w *rawWS) write(b []byte) {
	w.t.Helper()
	if _, err := w.c.Write(b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func deflated(t *testing.T, s string) []byte {
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	_, _ = fw.Write([]byte(s))
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
}

func TestEnginesReadFramesInPieces(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			ts := startServer(t, hub.Config{}, websocket.Options{Engine: engine, Compression: true})
			w := dialRaw(t, ts, "permessage-deflate; client_no_context_takeover; server_no_context_takeover")

			// connect in three fragments with a ping between them, written
			// a byte at a time.
			cmd := `{"id":1,"connect":{}}`
			var b []byte
			b = append(b, encodeFrame(0x01, []byte(cmd[:5]))...)
			b = append(b, encodeFrame(0x89, []byte("hi"))...)
			b = append(b, encodeFrame(0x00, []byte(cmd[5:12]))...)
			b = append(b, encodeFrame(0x80, []byte(cmd[12:]))...)
			for i := range b {
				w.write(b[i : i+1])
				if i%7 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if op, p := w.readFrame(); op != 0xa || string(p) != "hi" {
				t.Fatalf("got opcode %x %q, want the pong to the ping", op, p)
			}
			if op, p := w.readFrame(); op != 1 || !strings.Contains(string(p), `"id":1`) {
				t.Fatalf("got opcode %x %q, want the connect reply", op, p)
			}

			// Three commands in one write, the second compressed.
			b = encodeFrame(0x81, []byte(`{"id":2,"ping":{}}`))
			b = append(b, encodeFrame(0x81|0x40, deflated(t, `{"id":3,"ping":{}}`))...)
			b = append(b, encodeFrame(0x81, []byte(`{"id":4,"ping":{}}`))...)
			w.write(b)
			var got string
			for !strings.Contains(got, `"id":4`) {
				op, p := w.readFrame()
				if op != 1 {
					t.Fatalf("opcode %x, want text", op)
				}
				got += string(p)
			}
			if !strings.Contains(got, `"id":2`) || !strings.Contains(got, `"id":3`) {
				t.Fatalf("replies %s, want ids 2, 3 and 4", got)
			}

			// A close with a reason is answered with the same code.
			w.write(encodeFrame(0x88, append([]byte{0x0f, 0xa0}, "bye"...)))
			if got := w.closeCode(); got != 4000 {
				t.Fatalf("close %d, want 4000 echoed", got)
			}
		})
	}
}

func TestEnginesCloseCodes(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		want  int
	}{
		{"reserved bit", encodeFrame(0x80|0x20|0x1, []byte("{}")), 1002},
		{"fragmented ping", encodeFrame(0x09, []byte("x")), 1002},
		{"continuation first", encodeFrame(0x80, []byte("x")), 1002},
		{"invalid UTF-8", encodeFrame(0x81, []byte{'"', 0xff, '"'}), 1007},
		{"binary", encodeFrame(0x82, []byte("{}")), 1003},
		{"compressed without the extension", encodeFrame(0x81|0x40, []byte("{}")), 1002},
		{"too large", encodeFrame(0x81, bytes.Repeat([]byte("x"), 2000)), 1009},
		{"close with a reserved code", encodeFrame(0x88, []byte{0x03, 0xed}), 1002},
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			ts := startServer(t, hub.Config{}, websocket.Options{Engine: engine, MaxMessageSize: 1024})
			for _, c := range cases {
				w := dialRaw(t, ts, "")
				w.write(c.frame)
				if got := w.closeCode(); got != c.want {
					t.Errorf("%s: close %d, want %d", c.name, got, c.want)
				}
			}
		})
	}
}

// An idle connection on the epoll engine holds no goroutine.
func TestEpollIdleConnectionsHoldNoGoroutine(t *testing.T) {
	ts := startServer(t, hub.Config{}, websocket.Options{Engine: websocket.EngineEpoll})
	before := runtime.NumGoroutine()
	const n = 100
	for i := range n {
		w := dialRaw(t, ts, "")
		w.write(encodeFrame(0x81, []byte(`{"id":1,"connect":{}}`)))
		if op, p := w.readFrame(); op != 1 || !strings.Contains(string(p), `"connect"`) {
			t.Fatalf("conn %d: opcode %x %q, want the connect reply", i, op, p)
		}
	}
	// The readers that handled the connects end once they re-arm.
	deadline := time.Now().Add(10 * time.Second)
	for {
		extra := runtime.NumGoroutine() - before
		if extra < n/4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d more goroutines with %d idle connections, want far fewer than one each", extra, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
