package webhook

import (
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// A cursor file holds "<event id> <crc32c of the id's digits, 8 hex digits>\n"; one written before the checksum
// was added holds the id alone.
func formatCursor(n uint64) []byte {
	id := strconv.FormatUint(n, 10)
	return fmt.Appendf(nil, "%s %08x\n", id, crc32.Checksum([]byte(id), castagnoli))
}

func parseCursor(b []byte) (uint64, bool) {
	f := strings.Fields(string(b))
	if len(f) == 0 || len(f) > 2 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, false
	}
	if len(f) == 2 {
		sum, err := strconv.ParseUint(f[1], 16, 32)
		if err != nil || uint32(sum) != crc32.Checksum([]byte(f[0]), castagnoli) {
			return 0, false
		}
	}
	return n, true
}
