package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/heraldrt/herald"
	client "github.com/heraldrt/herald/clients/go"
	"github.com/heraldrt/herald/hub"
	"github.com/heraldrt/herald/metrics"
)

var transports = []string{client.TransportWebSocket, client.TransportSSE, client.TransportHTTPStream}

// TestTransportConformance runs the same session-level checks over every
// transport: what holds on WebSocket must hold on the HTTP fallbacks.
func TestTransportConformance(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Run("connect, subscribe, publish and receive", func(t *testing.T) {
				s := newServer(t, hub.Config{})
				r := newRecorder()
				c := connect(t, s, r, &client.Options{Transports: []string{tr}})
				if got := c.Transport(); got != tr {
					t.Fatalf("transport %q, want %q", got, tr)
				}
				subscribe(t, c, "history:feed", r, nil)
				s.publish(t, "history:feed", `{"from":"api"}`)
				if _, err := c.Publish(ctxTimeout(t), "history:feed", []byte(`{"from":"client"}`)); err != nil {
					t.Fatal(err)
				}
				got := publications(t, r, 2)
				if string(got[0].Data) != `{"from":"api"}` || string(got[1].Data) != `{"from":"client"}` || got[1].Offset != 2 {
					t.Fatalf("publications %+v", got)
				}
			})
			t.Run("server pings are answered", func(t *testing.T) {
				m := metrics.New()
				s := newServer(t, hub.Config{PingInterval: time.Second, PongTimeout: 5 * time.Second, Metrics: m})
				r := newRecorder()
				connect(t, s, r, &client.Options{Transports: []string{tr}})
				// After connect the client sends nothing of its own: every
				// message the server receives now is a pong.
				in := m.MessagesIn.WithLabelValues(tr)
				start := counter(in)
				deadline := time.Now().Add(waitTimeout)
				for counter(in) < start+2 {
					if time.Now().After(deadline) {
						t.Fatalf("no pongs: %v messages in", counter(in)-start)
					}
					time.Sleep(50 * time.Millisecond)
				}
				// The connection never dropped: one connecting (Connect's own)
				// and one connected.
				for len(r.ch) > 0 {
					switch e := (<-r.ch).(type) {
					case client.ConnectingEvent:
						if e.Code != 0 {
							t.Fatalf("reconnected: %+v", e)
						}
					case client.ConnectedEvent:
					default:
						t.Fatalf("unexpected event %#v", e)
					}
				}
			})
			t.Run("recovery after a restart", func(t *testing.T) {
				s := newServer(t, hub.Config{})
				r := newRecorder()
				c := connect(t, s, r, &client.Options{Transports: []string{tr}})
				subscribe(t, c, "history:feed", r, nil)
				first, _ := waitFor[client.SubscribedEvent](t, r, nil)
				s.publish(t, "history:feed", `{"n":1}`)
				publications(t, r, 1)
				s.kill()
				waitFor[client.ConnectingEvent](t, r, nil)
				for n := 2; n <= 3; n++ {
					if _, err := s.broker.Publish(context.Background(), "history:feed", fmt.Appendf(nil, `{"n":%d}`, n), namespaces().Named["history"].Stream()); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.restart(false); err != nil {
					t.Fatal(err)
				}
				re, _ := waitFor[client.SubscribedEvent](t, r, nil)
				if !re.Recovered || re.Epoch != first.Epoch {
					t.Fatalf("resubscribed %+v", re)
				}
				got := publications(t, r, 2)
				if got[0].Offset != 2 || got[1].Offset != 3 {
					t.Fatalf("recovered %+v", got)
				}
			})
			t.Run("error codes", func(t *testing.T) {
				s := newServer(t, hub.Config{})
				c := connect(t, s, nil, &client.Options{Transports: []string{tr}})
				_, err := c.Publish(ctxTimeout(t), "readonly:x", []byte(`1`))
				var e *client.Error
				if !errors.As(err, &e) || e.Code != uint32(herald.ErrPermissionDenied) {
					t.Fatalf("publish to readonly: %v", err)
				}
				_, err = c.RPC(ctxTimeout(t), "nope", nil)
				if !errors.As(err, &e) || e.Code != uint32(herald.ErrUnknownMethod) {
					t.Fatalf("unknown rpc: %v", err)
				}
			})
			t.Run("disconnect codes", func(t *testing.T) {
				s := newServer(t, hub.Config{})
				r := newRecorder()
				connect(t, s, r, &client.Options{Transports: []string{tr}})
				ce, _ := waitFor[client.ConnectedEvent](t, r, nil)
				if err := s.hub.DisconnectTarget(context.Background(), hub.Target{Client: ce.ClientID}, herald.DisconnectForceReconnect); err != nil {
					t.Fatal(err)
				}
				ing, _ := waitFor[client.ConnectingEvent](t, r, nil)
				if ing.Code != uint32(herald.DisconnectForceReconnect.Code) {
					t.Fatalf("connecting %+v", ing)
				}
				ce, _ = waitFor[client.ConnectedEvent](t, r, nil)
				if err := s.hub.DisconnectTarget(context.Background(), hub.Target{Client: ce.ClientID}, herald.DisconnectForceDisconnect); err != nil {
					t.Fatal(err)
				}
				d, _ := waitFor[client.DisconnectedEvent](t, r, nil)
				if d.Code != uint32(herald.DisconnectForceDisconnect.Code) {
					t.Fatalf("disconnected %+v", d)
				}
			})
		})
	}
}

// TestTransportFallback: where the WebSocket handshake fails (a proxy
// strips Upgrade), the client falls back to the next transport, and tries
// the one that worked first when it reconnects.
func TestTransportFallback(t *testing.T) {
	s := newServer(t, hub.Config{})
	s.stripUpgrade.Store(true)
	r := newRecorder()
	c := connect(t, s, r, &client.Options{Transports: transports})
	if got := c.Transport(); got != client.TransportSSE {
		t.Fatalf("transport %q, want sse", got)
	}
	dials := s.dials.Load()
	ce, _ := waitFor[client.ConnectedEvent](t, r, nil)
	if err := s.hub.DisconnectTarget(context.Background(), hub.Target{Client: ce.ClientID}, herald.DisconnectForceReconnect); err != nil {
		t.Fatal(err)
	}
	waitFor[client.ConnectingEvent](t, r, nil)
	waitFor[client.ConnectedEvent](t, r, nil)
	if got := s.dials.Load(); got != dials || c.Transport() != client.TransportSSE {
		t.Fatalf("after reconnecting: %d more WebSocket dials, transport %q", got-dials, c.Transport())
	}
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
