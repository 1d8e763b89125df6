package daemon

import "os"

// pacedChunk is how much of a large file is written before its writeback is started and waited for.
const pacedChunk = 1 << 20

// pacedFile writes a large file (a checkpoint) in steps of pacedChunk, each handed to the disk and waited for
// before the next is written. Written at once, 100 MB of dirty pages reached the disk together when the checkpoint
// was synced, and each fsync of the record journal (every order placed) waited behind them: its p99 went from 5 to
// 20-40 ms. In steps, a journal commit waits for at most one chunk.
type pacedFile struct {
	f       *os.File
	written int64
	synced  int64
}

func (p *pacedFile) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.written += int64(n)
	if err == nil && p.written-p.synced >= pacedChunk {
		err = writeBack(p.f, p.synced, p.written-p.synced)
		p.synced = p.written
	}
	return n, err
}
