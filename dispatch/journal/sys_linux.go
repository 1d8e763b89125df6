//go:build linux

package journal

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate makes f at least size bytes long, the bytes past its end allocated on disk and reading as zeros,
// without writing them: a commit that writes into them changes no file size. File systems without fallocate get
// the zeros written. On a memory file system (tmpfs) it does nothing: there is no block map or disk to spare a
// sync, and preallocated pages would be memory taken.
func preallocate(f *os.File, size int64) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err == nil && fs.Type == unix.TMPFS_MAGIC {
		return nil
	}
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return writeZeros(f, size)
	}
	return err
}

// datasync makes f's data durable with the metadata needed to read it back (fdatasync): not its times, which a
// commit into a preallocated segment is all it would change.
func datasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
