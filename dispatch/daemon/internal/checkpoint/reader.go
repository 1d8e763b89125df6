package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// Reader reads a checkpoint one record at a time, in the file's order. Decoding is most of the cost of reading a
// checkpoint, and the records are independent of each other: a goroutine reads the lines and checksums them, and
// as many as GOMAXPROCS decode them, a batch at a time, ahead of Next, which checks them in order. At most a
// bounded number of batches is held ahead. Close stops the goroutines; a Reader whose Next returned io.EOF or an
// error needs no Close, but one abandoned before must be closed.
type Reader struct {
	header  Header
	seen    Counts
	last    string
	records int // lines before the trailer taken so far, the header included
	done    bool
	err     error // the error Next returned, returned again
	closed  bool

	batches <-chan *batch
	cur     *batch
	i       int
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// A batch is a run of lines, decoded by a worker; the last batch of a file carries its tail.
type batch struct {
	buf   []byte
	ends  []int // line i is buf[ends[i-1]:ends[i]], without its newline
	recs  []Record
	errAt int // the first line that did not decode, or -1
	err   error
	ready chan struct{} // closed once decoded
	tail  *tail
}

func (b *batch) line(i int) []byte {
	from := 0
	if i > 0 {
		from = b.ends[i-1]
	}
	return b.buf[from:b.ends[i]]
}

// tail is how the file ended: the trailer's line, the checksum of every line before it, and whether anything but
// white space follows it. No trailer: the file ended before one (or err, if reading failed).
type tail struct {
	trailer []byte
	sum     uint64
	after   bool
	err     error
}

// batchLines is how many lines a batch holds: enough that handing it over costs little next to decoding it.
const batchLines = 256

// trailerPrefix opens the trailer's line as Writer writes it (the kind is the first field).
var trailerPrefix = []byte(`{"k":"end"`)

// ErrNotThisFormat is NewReader's answer to a file that does not start with a header record (a checkpoint of
// version 1, a single JSON document, for one).
var ErrNotThisFormat = errors.New("checkpoint: not a stream of records (no header line)")

// NewReader reads the header of the checkpoint r and checks its version, and starts reading the records ahead.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	sum := xxhash.New()
	first, err := readLine(br, nil)
	if err != nil && (!errors.Is(err, io.EOF) || len(first) == 0) {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", ErrNotThisFormat, err)
		}
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(first, &rec); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("%w: %w", ErrNotThisFormat, err)
		}
		return nil, fmt.Errorf("checkpoint: record 1: %w", err)
	}
	if rec.K != KindHeader || rec.Header == nil {
		return nil, fmt.Errorf("%w: the first record is of kind %q", ErrNotThisFormat, rec.K)
	}
	if rec.Header.Version != Version {
		return nil, fmt.Errorf("checkpoint: version %d, this build reads %d (and 1)", rec.Header.Version, Version)
	}
	sum.Write(first)
	sum.Write([]byte{'\n'})
	cr := &Reader{header: *rec.Header, last: KindHeader, records: 1, stop: make(chan struct{})}
	workers := max(1, runtime.GOMAXPROCS(0))
	work := make(chan *batch, 2*workers)
	batches := make(chan *batch, 2*workers)
	cr.batches = batches
	cr.wg.Add(1 + workers)
	go cr.readLines(br, sum, work, batches)
	for range workers {
		go func() {
			defer cr.wg.Done()
			for b := range work {
				b.decode()
			}
		}()
	}
	return cr, nil
}

// readLine reads one line into buf (reused), without its newline. At the end of the input it returns what is
// left with io.EOF.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		part, err := br.ReadSlice('\n')
		buf = append(buf, part...)
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}

// readLines reads the records' lines into batches, checksumming them, up to the trailer and what follows it, and
// hands each batch to the workers and, in order, to Next.
func (r *Reader) readLines(br *bufio.Reader, sum *xxhash.Digest, work, batches chan<- *batch) {
	defer r.wg.Done()
	defer close(work)
	defer close(batches)
	send := func(b *batch) bool {
		b.ready = make(chan struct{})
		select {
		case work <- b:
		case <-r.stop:
			return false
		}
		select {
		case batches <- b:
			return true
		case <-r.stop:
			return false
		}
	}
	b := &batch{errAt: -1}
	var line []byte
	for {
		var err error
		line, err = readLine(br, line)
		if err != nil && !errors.Is(err, io.EOF) {
			b.tail = &tail{err: err}
			send(b)
			return
		}
		if errors.Is(err, io.EOF) && len(line) == 0 {
			b.tail = &tail{} // no trailer
			send(b)
			return
		}
		if bytes.HasPrefix(line, trailerPrefix) {
			t := &tail{trailer: append([]byte(nil), line...), sum: sum.Sum64()}
			if err == nil {
				rest, rerr := io.ReadAll(br)
				t.after, t.err = len(bytes.TrimSpace(rest)) > 0, rerr
			}
			b.tail = t
			send(b)
			return
		}
		sum.Write(line)
		sum.Write([]byte{'\n'})
		b.buf = append(b.buf, line...)
		b.ends = append(b.ends, len(b.buf))
		if errors.Is(err, io.EOF) {
			b.tail = &tail{} // the last line had no newline: the file was cut in it
			send(b)
			return
		}
		if len(b.ends) == batchLines {
			if !send(b) {
				return
			}
			b = &batch{errAt: -1}
		}
	}
}

// decode decodes the batch's lines, up to the first that fails.
func (b *batch) decode() {
	defer close(b.ready)
	b.recs = make([]Record, len(b.ends))
	for i := range b.ends {
		if err := json.Unmarshal(b.line(i), &b.recs[i]); err != nil {
			b.errAt, b.err = i, err
			return
		}
	}
}

// Header is the checkpoint's header.
func (r *Reader) Header() Header { return r.header }

// Next returns the next record after the header, and io.EOF after the last, once the trailer's count and checksum
// hold and nothing follows it. Any damage is an error naming the record and what is wrong with it.
func (r *Reader) Next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.done {
		return nil, io.EOF
	}
	if r.closed {
		return nil, errors.New("checkpoint: Next on a closed reader")
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		if errors.Is(err, io.EOF) {
			r.err, r.done = nil, true
		}
		r.Close()
	}
	return rec, err
}

func (r *Reader) next() (*Record, error) {
	for r.cur == nil || r.i == len(r.cur.ends) {
		if r.cur != nil && r.cur.tail != nil {
			return nil, r.end(r.cur.tail)
		}
		b, ok := <-r.batches
		if !ok {
			return nil, errors.New("checkpoint: reader closed")
		}
		<-b.ready
		r.cur, r.i = b, 0
	}
	b, i := r.cur, r.i
	r.i++
	n := r.records + 1
	if i == b.errAt {
		return nil, fmt.Errorf("checkpoint: record %d: %w", n, b.err)
	}
	rec := &b.recs[i]
	if err := r.check(n, rec); err != nil {
		return nil, err
	}
	if rec.K == KindEnd {
		return nil, fmt.Errorf("checkpoint: record %d is a trailer that does not start as the writer starts one", n)
	}
	r.records++
	r.count(rec.K)
	return rec, nil
}

// check checks a record's kind, its place after the last one, and that it holds its entity.
func (r *Reader) check(n int, rec *Record) error {
	rank, ok := kindRank[rec.K]
	switch {
	case !ok:
		return fmt.Errorf("checkpoint: record %d is of an unknown kind %q", n, rec.K)
	case rec.K == KindHeader || rank < kindRank[r.last]:
		return fmt.Errorf("checkpoint: record %d, of kind %q, comes after one of kind %q", n, rec.K, r.last)
	case !rec.entity():
		return fmt.Errorf("checkpoint: record %d, of kind %q, has no %s (or an order without a timeline)", n, rec.K, rec.K)
	}
	r.last = rec.K
	return nil
}

// end checks the file's tail: a trailer, the records before it, their checksum, the header's counts, and nothing
// after it.
func (r *Reader) end(t *tail) error {
	if t.err != nil {
		return fmt.Errorf("checkpoint: after record %d: %w", r.records, t.err)
	}
	if t.trailer == nil {
		return fmt.Errorf("checkpoint: cut short after record %d, before its trailer", r.records)
	}
	n := r.records + 1
	var rec Record
	if err := json.Unmarshal(t.trailer, &rec); err != nil {
		return fmt.Errorf("checkpoint: record %d: %w", n, err)
	}
	if err := r.check(n, &rec); err != nil {
		return err
	}
	e := rec.End
	if e.Records != r.records {
		return fmt.Errorf("checkpoint: the trailer counts %d records, the file holds %d", e.Records, r.records)
	}
	want, err := hex.DecodeString(e.XXHash)
	if err != nil || len(want) != 8 {
		return fmt.Errorf("checkpoint: the trailer's xxhash %q is not 16 hex digits", e.XXHash)
	}
	if got := fmt.Sprintf("%016x", t.sum); got != e.XXHash {
		return fmt.Errorf("checkpoint: checksum mismatch: the records give %s, the trailer says %s", got, e.XXHash)
	}
	if r.seen != r.header.Counts {
		return fmt.Errorf("checkpoint: the header counts %+v, the file holds %+v", r.header.Counts, r.seen)
	}
	if t.after {
		return fmt.Errorf("checkpoint: data after the trailer")
	}
	return io.EOF
}

// Close stops reading ahead and waits for the goroutines that did. It may be called more than once, from the
// goroutine that calls Next.
func (r *Reader) Close() {
	r.closed = true
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
}
