//go:build !(linux || darwin || freebsd)

package metrics

func statfs(string) (avail, size uint64, err error) { return 0, 0, errNoStatfs }
