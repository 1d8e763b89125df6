//go:build linux || darwin || freebsd

package metrics

import "syscall"

// statfs reads the space of the file system holding dir: the blocks available to unprivileged users (root's
// reserve is not the daemon's to use) and all blocks, in bytes.
func statfs(dir string) (avail, size uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bsize := uint64(st.Bsize)
	return uint64(st.Bavail) * bsize, uint64(st.Blocks) * bsize, nil
}
