package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// The transports a client may use, by the names the server, its metrics
// and `herald sub --transport` use.
const (
	TransportWebSocket  = "websocket"
	TransportSSE        = "sse"
	TransportHTTPStream = "http_stream"
)

// streamFrameLimit bounds one line of a stream, as readLimit bounds a
// WebSocket message.
const streamFrameLimit = readLimit

// Stream is one HTTP fallback connection (docs/protocol.md, "HTTP fallback
// transports"): the server's frames on a GET response, commands POSTed to
// the emulation endpoint with the session and token of the stream's first
// event. Read and Write may be called concurrently, each by one goroutine.
// A goroutine of its own reads the response, so that a Read can give up
// when its context ends, as a WebSocket read does.
type Stream struct {
	client    *http.Client
	header    http.Header
	emulation string
	session   string
	token     string
	sse       bool
	body      io.ReadCloser
	cancel    context.CancelFunc
	r         *bufio.Reader
	closeOnce sync.Once
	frames    chan streamFrame
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
}

type streamFrame struct {
	frame []byte
	err   error
}

// StreamURL turns a server URL (as given to New) into transport's stream
// endpoint URL, http or https.
func StreamURL(raw, transport string) (string, error) {
	ws, err := endpointURL(raw)
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(ws) // endpointURL made it
	u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
	u.Path = strings.TrimSuffix(u.Path, endpointPath) + "/connection/" + transport
	return u.String(), nil
}

// DialStream opens transport's (TransportSSE or TransportHTTPStream) stream
// at streamURL (StreamURL's) and reads its session preamble. ctx bounds
// only the opening: the stream lives until Close.
func DialStream(ctx context.Context, client *http.Client, header http.Header, streamURL, transport string) (*Stream, error) {
	if transport != TransportSSE && transport != TransportHTTPStream {
		return nil, fmt.Errorf("herald: transport %q is not a stream: use %s or %s", transport, TransportSSE, TransportHTTPStream)
	}
	if client == nil {
		client = http.DefaultClient
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	opening := context.AfterFunc(ctx, cancel)
	defer opening()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, streamURL, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("herald: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := client.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("herald: open %s: %w", streamURL, err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 200))
		res.Body.Close()
		cancel()
		return nil, fmt.Errorf("herald: open %s: HTTP %s: %s", streamURL, res.Status, strings.TrimSpace(string(b)))
	}
	s := &Stream{client: client, header: header, sse: transport == TransportSSE, body: res.Body, cancel: cancel,
		r: bufio.NewReaderSize(res.Body, 4096)}
	s.emulation = strings.TrimSuffix(streamURL, "/connection/"+transport) + "/connection/emulation"
	if i := strings.IndexByte(streamURL, '?'); i >= 0 {
		s.emulation = strings.TrimSuffix(streamURL[:i], "/connection/"+transport) + "/connection/emulation"
	}
	pre, err := s.readFrame()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("herald: open %s: no session preamble: %w", streamURL, err)
	}
	var p struct{ Session, Token string }
	if err := json.Unmarshal(pre, &p); err != nil || p.Session == "" || p.Token == "" {
		s.Close()
		return nil, fmt.Errorf("herald: open %s: the first event is not a session preamble: %.200q", streamURL, pre)
	}
	s.session, s.token = p.Session, p.Token
	s.frames, s.done = make(chan streamFrame), make(chan struct{})
	s.wg.Add(1)
	go s.readLoop()
	return s, nil
}

func (s *Stream) readLoop() {
	defer s.wg.Done()
	for {
		f, err := s.readFrame()
		select {
		case s.frames <- streamFrame{f, err}:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read returns the next frame: one or more messages separated by
// newlines, as a WebSocket message holds them. It returns io.EOF when
// the server ended the stream, and ctx's error when ctx ends first.
func (s *Stream) Read(ctx context.Context) ([]byte, error) {
	select {
	case f := <-s.frames:
		return f.frame, f.err
	case <-s.done:
		return nil, errStreamClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var errStreamClosed = errors.New("herald: the stream was closed")

func (s *Stream) readFrame() ([]byte, error) {
	var frame []byte
	for {
		line, err := s.line()
		if err != nil {
			return nil, err
		}
		if !s.sse {
			if len(line) == 0 {
				continue
			}
			return line, nil
		}
		switch {
		case len(line) == 0: // the end of an event
			if frame != nil {
				return frame, nil
			}
		case bytes.HasPrefix(line, []byte("data:")):
			data := bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))
			if frame != nil {
				frame = append(frame, '\n')
			}
			frame = append(frame, data...)
		}
		// event:, id:, retry: and comments carry nothing a client needs:
		// the preamble is the first event whatever its name.
	}
}

func (s *Stream) line() ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := s.r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > streamFrameLimit {
			return nil, errors.New("herald: a stream line is over 16 MiB")
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// Write POSTs one batch of commands, newline-separated, to the session.
func (s *Stream) Write(ctx context.Context, frame []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.emulation, bytes.NewReader(frame))
	if err != nil {
		return err
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Herald-Session", s.session)
	req.Header.Set("Herald-Token", s.token)
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 500))
		return fmt.Errorf("herald: POST %s: HTTP %s: %s", s.emulation, res.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// Close ends the stream (the server sees the request end: a stream has
// no close handshake) and waits for its reader; a Read in progress
// returns an error.
func (s *Stream) Close() {
	s.closeOnce.Do(func() {
		if s.done != nil {
			close(s.done)
		}
		s.cancel()
		s.body.Close()
	})
	s.wg.Wait()
}
