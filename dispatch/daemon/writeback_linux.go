//go:build linux

package daemon

import (
	"os"

	"golang.org/x/sys/unix"
)

// writeBack starts the writeback of a file's range and waits for it to reach the disk's queue and complete. It is
// not an fsync (no metadata, no cache flush): it only keeps a large file's dirty pages from piling up, so that a
// later fsync, this file's or another's, does not wait behind all of them.
func writeBack(f *os.File, off, n int64) error {
	return unix.SyncFileRange(int(f.Fd()), off, n,
		unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}
