//go:build !unix

package websocket

import "errors"

// rawIO says whether reads and writes may go to the descriptor directly:
// not here, where every write sets its deadline and waits in net.
const rawIO = false

var errNoRawIO = errors.New("websocket: no direct descriptor I/O on this platform")

func sysRead(uintptr, []byte) (int, error)  { return 0, errNoRawIO }
func sysWrite(uintptr, []byte) (int, error) { return 0, errNoRawIO }
