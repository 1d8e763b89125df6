// Package journal is dispatchd's write-ahead log: the daemon appends a record for every change it accepts, waits
// until the record is on disk before it answers the client, and on restart loads the last checkpoint and replays
// the records written after it.
//
// Appends are cheap (a copy into memory); one committer goroutine writes everything appended since its last
// write with one write and one fsync (group commit). Under load, a commit carries as many records as arrived while
// the previous one was syncing, so the number of fsyncs per second stays bounded while every caller still waits
// for its own record to be durable.
//
// On disk the journal is a directory of segment files of checksummed frames. A crash can only tear the last
// commit, which Open cuts off (nobody was told it was durable); a bad frame anywhere else is corruption, and Open
// refuses to start on it rather than silently drop acknowledged records.
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
