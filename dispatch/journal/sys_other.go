//go:build !linux

package journal

import "os"

// preallocate makes f at least size bytes long by writing zeros past its end.
func preallocate(f *os.File, size int64) error { return writeZeros(f, size) }

// datasync makes f durable; without fdatasync, an fsync.
func datasync(f *os.File) error { return f.Sync() }
