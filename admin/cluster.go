package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/heraldrt/herald"
	"github.com/heraldrt/herald/hub"
)

// nodes lists the live nodes, the answering one first, with the counts
// of their last announcement (every 5s).
func (a *api) nodes(w http.ResponseWriter, _ *http.Request) {
	res := struct {
		Nodes []hub.NodeJSON `json:"nodes"`
	}{Nodes: []hub.NodeJSON{}}
	for _, n := range a.hub.Nodes() {
		res.Nodes = append(res.Nodes, n.JSON())
	}
	writeJSON(w, http.StatusOK, res)
}

// channels lists the channels with subscribers on any node.
func (a *api) channels(w http.ResponseWriter, r *http.Request) {
	res, err := a.hub.SurveyChannels(r.Context(), r.URL.Query().Get("pattern"))
	if err != nil {
		writeHeraldError(w, err)
		return
	}
	if res.Channels == nil {
		res.Channels = map[string]hub.ChannelInfo{}
	}
	writeJSON(w, http.StatusOK, struct {
		Channels map[string]hub.ChannelInfo `json:"channels"`
		Missing  []string                   `json:"missing,omitempty"`
	}{res.Channels, res.Missing})
}

// disconnects answers the disconnects of every node by code, per minute,
// over the last minutes (default all the nodes keep).
func (a *api) disconnects(w http.ResponseWriter, r *http.Request) {
	minutes := hub.DisconnectMinutes
	if s := r.URL.Query().Get("minutes"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > hub.DisconnectMinutes {
			writeError(w, http.StatusBadRequest, herald.ErrBadRequest, "minutes must be a number from 1 to "+strconv.Itoa(hub.DisconnectMinutes)+" (the minutes each node keeps)")
			return
		}
		minutes = n
	}
	res, err := a.hub.SurveyDisconnects(r.Context(), minutes)
	if err != nil {
		writeHeraldError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

type publishRequest struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// publish publishes to a channel as the server API does, for an operator.
func (a *api) publish(w http.ResponseWriter, r *http.Request) {
	var req publishRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, herald.ErrTooLarge, "the body passes "+strconv.FormatInt(a.maxBody, 10)+" bytes (api.max_body_size)")
			return
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body")
		}
		writeError(w, http.StatusBadRequest, herald.ErrBadRequest, `send a JSON body {"channel":"<name>","data":<JSON value>}: `+err.Error())
		return
	}
	if req.Channel == "" || len(req.Data) == 0 {
		writeError(w, http.StatusBadRequest, herald.ErrBadRequest, `both "channel" and "data" are needed`)
		return
	}
	pos, err := a.hub.Publish(r.Context(), req.Channel, req.Data, hub.PublishRequest{Source: "api"})
	if err != nil {
		writeHeraldError(w, err)
		return
	}
	a.log.Info("admin publish", "channel", req.Channel, "bytes", len(req.Data), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, struct {
		Offset uint64 `json:"offset"`
		Epoch  string `json:"epoch"`
	}{pos.Offset, pos.Epoch})
}
