//go:build !(linux || darwin)

package main

// benchRaiseNoFile leaves the limit alone where it is not RLIMIT_NOFILE;
// a run over the limit then fails its connections and counts them.
func benchRaiseNoFile(uint64) error { return nil }
