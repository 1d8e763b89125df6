// Package journal is dispatchd's write-ahead log on an embedded bbolt file: the daemon appends a record for
// every change it accepts, waits until the record is on disk before it answers the client, and on restart
// loads the last checkpoint and replays the records written after it.
//
// Appends are cheap (a copy into memory); one committer goroutine writes everything appended since its last
// write in a single bbolt transaction, whose commit is one fsync (group commit). Under load, a commit carries
// as many records as arrived while the previous one was syncing, so the number of fsyncs per second stays
// bounded while every caller still waits for its own record to be durable.
//
// Checkpoints live outside the journal (the daemon writes them to a file of their own, so that writing a large one
// never holds a commit): once one is durable, Truncate deletes the records it covers, in short transactions, and
// remembers where the log stopped so that sequence numbers keep growing.
package journal
