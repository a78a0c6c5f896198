package websocket

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"
)

// inflated is a decompressed message in pooled buffers.
type inflated struct {
	in  bytes.Reader
	src []byte
	fr  io.ReadCloser
	out []byte
}

var inflaters = sync.Pool{New: func() any { return new(inflated) }}

// deflateTail ends a permessage-deflate message (RFC 7692 7.2.2) and adds
// an empty final block, so the inflater reaches a clean end of stream.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflate decompresses a message of a connection without context
// takeover; past max bytes it fails with 1009, on corrupt data with 1002.
func inflate(p []byte, max int) (*inflated, error) {
	f := inflaters.Get().(*inflated)
	f.src = append(append(f.src[:0], p...), deflateTail...)
	f.in.Reset(f.src)
	if f.fr == nil {
		f.fr = flate.NewReader(&f.in)
	} else {
		_ = f.fr.(flate.Resetter).Reset(&f.in, nil)
	}
	f.out = f.out[:0]
	for {
		if len(f.out) == cap(f.out) {
			f.out = append(f.out, 0)[:len(f.out)]
		}
		n, err := f.fr.Read(f.out[len(f.out):cap(f.out)])
		f.out = f.out[:len(f.out)+n]
		if len(f.out) > max {
			f.release()
			return nil, errTooBig
		}
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			f.release()
			return nil, protocolError("invalid compressed data")
		}
	}
}

func (f *inflated) release() {
	// A buffer grown by one large message is not kept.
	if cap(f.out) > 64<<10 {
		f.out = nil
	}
	if cap(f.src) > 64<<10 {
		f.src = nil
	}
	inflaters.Put(f)
}
