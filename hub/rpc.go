package hub

import (
	"context"
	"sort"
	"strings"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/protocol"
)

// RPCHandler answers a client's rpc call. data is the call's JSON (nil if
// absent); the answer must be JSON or nil. An *herald.Error reaches the
// client as is; any other error as an internal error.
type RPCHandler func(ctx context.Context, c herald.ClientInfo, data []byte) ([]byte, error)

// EchoRPC answers with the data it was given; `herald serve --dev` offers
// it as the method "echo", to try RPC without a backend.
func EchoRPC(_ context.Context, _ herald.ClientInfo, data []byte) ([]byte, error) {
	return data, nil
}

// RPCForwarder answers the methods not in Config.RPC, e.g. by forwarding
// them to the application backend.
type RPCForwarder func(ctx context.Context, c herald.ClientInfo, method string, data []byte) ([]byte, error)

func (s *Session) rpc(id uint32, req *protocol.RPCRequest) error {
	var out []byte
	var err error
	if fn, ok := s.hub.cfg.RPC[req.Method]; ok {
		out, err = fn(context.Background(), s.clientInfo(), req.Data)
	} else if fwd := s.hub.cfg.RPCForward; fwd != nil && req.Method != "" {
		out, err = fwd(context.Background(), s.clientInfo(), req.Method, req.Data)
	} else {
		return herald.Errorf(herald.ErrUnknownMethod, "unknown RPC method %q%s", truncate(req.Method, 64), s.hub.knownMethods())
	}
	if _, ok := asDisconnect(err); ok {
		return err
	}
	if err != nil {
		if e := herald.AsError(err); e.Code == herald.ErrInternal {
			s.log().Error("rpc failed", "method", req.Method, "err", err)
			return e
		}
		return err
	}
	if len(out) > 0 {
		if out, err = compactJSON(out); err != nil {
			s.log().Error("rpc answered with invalid JSON", "method", req.Method)
			return herald.Errorf(herald.ErrInternal, "the method %q answered with invalid JSON", req.Method)
		}
	}
	s.reply(&protocol.Reply{ID: id, RPC: &protocol.RPCResult{Data: out}})
	return nil
}

func (h *Hub) knownMethods() string {
	if len(h.cfg.RPC) == 0 {
		return ": this server has no RPC methods"
	}
	names := make([]string, 0, len(h.cfg.RPC))
	for n := range h.cfg.RPC {
		names = append(names, n)
	}
	sort.Strings(names)
	return ": known methods are " + strings.Join(names, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
