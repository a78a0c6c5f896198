//go:build unix

package websocket

import "syscall"

// rawIO says whether reads and writes may go to the descriptor directly.
const rawIO = true

func sysRead(fd uintptr, b []byte) (int, error)  { return syscall.Read(int(fd), b) }
func sysWrite(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
