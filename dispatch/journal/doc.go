// Package journal is dispatchd's write-ahead log: the daemon appends a record for every change it accepts, waits
// until the record is on disk before it answers the client, and on restart loads the last checkpoint and replays
// the records written after it.
//
// Appends are cheap (a copy into memory); one committer goroutine writes everything appended since its last
// write with one write and one sync (group commit). Under load, a commit carries as many records as arrived while
// the previous one was syncing, so the number of fsyncs per second stays bounded while every caller still waits
// for its own record to be durable.
//
// A commit writes into space allocated ahead of it and syncs with fdatasync: segments are preallocated (fallocate
// on Linux, zeros written elsewhere) and the next one is made ahead of need by a goroutine the journal owns, so a
// commit changes neither a file's size nor its block map, and its sync writes the data and no inode. A segment's
// tail of zeros is the end of its records, not damage; a journal written before preallocation is read as it is.
//
// On disk the journal is a directory of segment files of checksummed frames with sequence numbers that run on
// without a gap. A crash can only tear the end of the last segment (the last commit, whose callers were never
// answered): Open cuts it off and says so in its Recovery report. A bad frame that intact records follow (found by
// their checksums), a gap in the sequence numbers, or damage in a segment already synced and closed is not a tear:
// Open refuses the journal with a CorruptError naming the segment and the byte, rather than silently drop records
// that were acknowledged. Options.Salvage is the operator's way on: keep what is before the damage, move the
// damaged segments aside, and report what was dropped.
//
// A commit that fails (a full disk: a short write, or a failed fsync) fails the journal for good: the failed
// commit is cut off its segment, so that records whose callers were told they failed do not come back on the next
// start, and nothing after it is written. After a failed fsync the kernel may have dropped the dirty pages or
// marked them clean, so neither retrying the fsync nor reading the page cache says what is on disk; the process
// must restart and read the journal again.
//
// The log is its own format rather than an embedded database because a database commit costs more than the one
// fsync a log needs: on the machine of docs/benchmarks.md, under 1 000 orders a second, a bbolt commit (data
// pages, then the meta page, each synced) took 1.0 ms on average against 0.49 ms for an append and fsync
// (dispatchd_journal_sync_duration_seconds), which kept bbolt's committer busy 87 % of the time and the intake
// p99 over 10 ms.
//
// Checkpoints live outside the journal (the daemon writes them to a file of their own): once one is durable,
// Truncate deletes the segments it covers and remembers where the log stopped, so that sequence numbers keep
// growing.
package journal
