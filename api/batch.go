package api

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/heraldrt/herald"
)

type batchRequest struct {
	Commands []batchCommand `json:"commands"`
	// Parallel runs the commands concurrently, in no particular order;
	// the replies are still in command order.
	Parallel bool `json:"parallel"`
}

type batchCommand struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type batchResult struct {
	Replies []batchReply `json:"replies"`
}

// batchReply holds exactly one of Result and Error.
type batchReply struct {
	Result any        `json:"result,omitempty"`
	Error  *errorJSON `json:"error,omitempty"`
}

const (
	// maxBatch bounds one request's work; the body size bounds it too.
	maxBatch = 1000
	// batchWorkers is how many commands of a parallel batch run at once,
	// so that one request cannot take every broker connection.
	batchWorkers = 8
)

// batch runs several commands in one request. Each gets its own reply, so
// one failing command does not stop the others.
func (h *Handler) batch(ctx context.Context, body []byte) (any, error) {
	var req batchRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.Commands == nil {
		return nil, herald.Errorf(herald.ErrBadRequest, "commands is missing: send {\"commands\":[{\"method\":\"publish\",\"params\":{...}}]}")
	}
	if len(req.Commands) > maxBatch {
		return nil, herald.Errorf(herald.ErrBadRequest, "a batch may hold at most %d commands, got %d; split it", maxBatch, len(req.Commands))
	}
	res := batchResult{Replies: make([]batchReply, len(req.Commands))}
	if !req.Parallel {
		for i, c := range req.Commands {
			res.Replies[i] = h.run(ctx, c)
		}
		return res, nil
	}
	sem := make(chan struct{}, batchWorkers)
	var wg sync.WaitGroup
	for i, c := range req.Commands {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res.Replies[i] = h.run(ctx, c)
		})
	}
	wg.Wait()
	return res, nil
}

// run calls one command of a batch.
func (h *Handler) run(ctx context.Context, c batchCommand) batchReply {
	if c.Method == "batch" {
		return batchReply{Error: &errorJSON{Code: uint32(herald.ErrBadRequest), Message: "a batch cannot hold another batch"}}
	}
	fn, ok := h.methods[c.Method]
	if !ok {
		return batchReply{Error: toErrorJSON(unknownMethod(c.Method))}
	}
	params := []byte(c.Params)
	if len(params) == 0 {
		params = []byte("{}") // info and channels need no params
	}
	res, err := fn(ctx, params)
	if err != nil {
		return batchReply{Error: toErrorJSON(err)}
	}
	return batchReply{Result: res}
}
