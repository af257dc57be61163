//! The persistent queue: with a journal, an accepted request is on disk before
//! `submit` returns, and leaves the disk only once its callback has run, so that a
//! process that dies leaves its unfinished work for the next one to recover.
//!
//! **The store is SQLite** (through `rusqlite`, with SQLite's own source bundled, so
//! every platform runs the same, tested version), in WAL mode with
//! `synchronous=FULL`: a commit returns only once its WAL frames are fsynced, and a
//! crash at any moment leaves either the whole transaction or none of it. Chosen over
//! `redb` because SQLite's file format and its crash safety have been relied on for
//! two decades across billions of devices, its on-disk format is documented and
//! stable (a journal can be opened with the `sqlite3` shell to see what is pending),
//! and it gives the checks a journal needs for free: `PRAGMA application_id` tells
//! rlc's file from anyone else's, `user_version` a newer schema, `quick_check` a
//! corrupt file, and `locking_mode=EXCLUSIVE` an OS file lock that keeps a second
//! live client out and dies with its process.
//!
//! **Group commit.** Submitters never touch the file: they hand their row to one
//! writer thread and wait. The writer takes everything that arrived while it was
//! writing (appends and removals alike) and commits it in one transaction, one
//! fsync, then wakes every submitter of that batch. The more threads submit, the more
//! each fsync carries. No disk I/O ever happens under the scheduler's lock.
//!
//! **Ordering, and the guarantee.** A row is written before `submit` returns `Ok`;
//! it is deleted after the request's callback has returned, and the completion
//! thread waits for that deletion to be on disk before it runs the next batch of
//! callbacks. So after a crash the next process recovers exactly the requests that
//! had not finished: those queued, those in flight (which may have reached the
//! server: they are sent again, with the same `Idempotency-Key`), and at most the
//! last batch of callbacks, whose deletion was not yet on disk (run again). A
//! request whose deletion was on disk is never sent again. This is at-least-once,
//! never at-most-once: nothing accepted is lost. A request that ends with `Shutdown`
//! (the client closed before sending it) stays in the journal for the next process.

mod entry;
mod store;

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, ErrorKind, Result};
pub(crate) use entry::{check_tag, from_row, remove_after, to_row};
pub(crate) use store::Row;
use store::Store;

/// What the writer has to do, and how far it got.
#[derive(Default)]
struct Queue {
    appends: Vec<Row>,
    removals: Vec<i64>,
    /// The batch that new work joins.
    open: u64,
    /// Every batch up to this one is on disk (or failed).
    done: u64,
    /// True while the writer commits batch `open - 1`.
    writing: bool,
    /// Batches that failed, with why (kept for the last few hundred batches).
    failures: Vec<(u64, String)>,
    stopping: bool,
    /// The writer has exited: nothing handed in now will be written.
    exited: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    /// The writer waits here for work.
    work: Condvar,
    /// Submitters wait here for their batch.
    committed: Condvar,
    commits: AtomicU64,
    pending: AtomicU64,
}

/// An open journal: its writer thread and the requests an earlier process left.
pub(crate) struct Journal {
    inner: Arc<Inner>,
    writer: Mutex<Option<JoinHandle<()>>>,
    next_id: AtomicI64,
    leftovers: Mutex<Option<Vec<Row>>>,
    recovered: AtomicU64,
}

/// Counters for `rlc_client_metric`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Requests in the journal now (accepted and not yet finished, this process's
    /// and those left to recover).
    pub pending: u64,
    /// Transactions committed (each one fsync, carrying any number of requests).
    pub commits: u64,
    /// Requests handed back by `recover`.
    pub recovered: u64,
}

impl Journal {
    /// Opens the journal at `path` (creating it), locks it for the life of this
    /// journal, reads what an earlier process left, and starts the writer thread.
    pub fn open(path: &Path) -> Result<Journal> {
        let store = Store::open(path)?;
        let leftovers = store.load()?;
        let next_id = store.max_id()? + 1;
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue { open: 1, ..Queue::default() }),
            work: Condvar::new(),
            committed: Condvar::new(),
            commits: AtomicU64::new(0),
            pending: AtomicU64::new(leftovers.len() as u64),
        });
        let writer_inner = inner.clone();
        let writer = std::thread::Builder::new()
            .name("rlc-journal".into())
            .spawn(move || writer_inner.run(store))
            .map_err(|e| {
                Error::new(ErrorKind::InvalidState, format!("could not start a thread: {e}"))
            })?;
        Ok(Journal {
            inner,
            writer: Mutex::new(Some(writer)),
            next_id: AtomicI64::new(next_id),
            leftovers: Mutex::new(Some(leftovers)),
            recovered: AtomicU64::new(0),
        })
    }

    /// A fresh key for a row.
    pub fn next_id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes `row` and returns once it is on disk, in one transaction with whatever
    /// else was submitted meanwhile.
    pub fn append(&self, row: Row) -> Result<()> {
        let mut q = self.inner.queue.lock();
        if q.stopping {
            return Err(Error::new(ErrorKind::Shutdown, "the journal is closed"));
        }
        q.appends.push(row);
        let batch = q.open;
        self.inner.work.notify_one();
        self.inner.wait_for(q, batch)
    }

    /// Deletes row `id`, in the next batch; [`Journal::sync`] waits for it.
    pub fn remove(&self, id: i64) {
        let mut q = self.inner.queue.lock();
        q.removals.push(id);
        self.inner.work.notify_one();
    }

    /// Waits until everything handed to the writer so far is on disk.
    pub fn sync(&self) -> Result<()> {
        let q = self.inner.queue.lock();
        if q.exited {
            return Ok(());
        }
        let batch = if !q.appends.is_empty() || !q.removals.is_empty() {
            q.open
        } else if q.writing {
            q.open - 1
        } else {
            return Ok(());
        };
        self.inner.wait_for(q, batch)
    }

    /// The requests an earlier process left, once; `None` on later calls.
    pub fn take_leftovers(&self) -> Option<Vec<Row>> {
        let rows = self.leftovers.lock().take();
        if let Some(rows) = &rows {
            self.recovered.fetch_add(rows.len() as u64, Ordering::Relaxed);
        }
        rows
    }

    /// Puts back leftovers that could not be queued, for a later `recover`.
    pub fn return_leftovers(&self, rows: Vec<Row>) {
        if rows.is_empty() {
            return;
        }
        self.recovered.fetch_sub(rows.len() as u64, Ordering::Relaxed);
        let mut slot = self.leftovers.lock();
        match slot.as_mut() {
            Some(existing) => existing.extend(rows),
            None => *slot = Some(rows),
        }
    }

    pub fn stats(&self) -> JournalStats {
        JournalStats {
            pending: self.inner.pending.load(Ordering::Relaxed),
            commits: self.inner.commits.load(Ordering::Relaxed),
            recovered: self.recovered.load(Ordering::Relaxed),
        }
    }

    /// Writes what is pending, stops the writer and closes the file (letting go of
    /// its lock). Idempotent; later appends fail.
    pub fn close(&self) {
        self.inner.queue.lock().stopping = true;
        self.inner.work.notify_one();
        if let Some(writer) = self.writer.lock().take() {
            let _ = writer.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

impl Inner {
    /// Waits until batch `batch` is done; its error, if it failed.
    fn wait_for(&self, mut q: parking_lot::MutexGuard<'_, Queue>, batch: u64) -> Result<()> {
        while q.done < batch && !q.exited {
            self.committed.wait(&mut q);
        }
        match q.failures.iter().find(|(b, _)| *b == batch) {
            Some((_, why)) => Err(Error::new(ErrorKind::Journal, why.clone())),
            None if q.done < batch => {
                Err(Error::new(ErrorKind::Journal, "journal: closed before this was written"))
            }
            None => Ok(()),
        }
    }

    /// The writer thread: one transaction per batch, until closed and drained.
    fn run(&self, mut store: Store) {
        let mut appends = Vec::new();
        let mut removals = Vec::new();
        loop {
            let batch = {
                let mut q = self.queue.lock();
                while q.appends.is_empty() && q.removals.is_empty() && !q.stopping {
                    self.work.wait(&mut q);
                }
                if q.appends.is_empty() && q.removals.is_empty() {
                    q.exited = true;
                    drop(q);
                    self.committed.notify_all();
                    return;
                }
                std::mem::swap(&mut q.appends, &mut appends);
                std::mem::swap(&mut q.removals, &mut removals);
                q.writing = true;
                q.open += 1;
                q.open - 1
            };
            let outcome = store.commit(&appends, &removals);
            if outcome.is_ok() {
                self.commits.fetch_add(1, Ordering::Relaxed);
                let added = appends.len() as u64;
                let _ = self.pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                    Some((p + added).saturating_sub(removals.len() as u64))
                });
            }
            appends.clear();
            removals.clear();
            let mut q = self.queue.lock();
            if let Err(e) = outcome {
                q.failures.push((batch, format!("journal: the write failed: {e}")));
                if q.failures.len() > 256 {
                    q.failures.remove(0);
                }
            }
            q.done = batch;
            q.writing = false;
            drop(q);
            self.committed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(journal: &Journal, tag: &str) -> Row {
        Row {
            id: journal.next_id(),
            method: "GET".into(),
            target: "/x".into(),
            headers: Vec::new(),
            body: Vec::new(),
            priority: 0,
            deadline_unix_ms: None,
            tag: Some(tag.into()),
            timeout_ms: None,
            max_retries: None,
            retry_unsafe: false,
            cost: 1,
        }
    }

    #[test]
    fn concurrent_appends_share_commits_and_all_survive() {
        let path = store::tests::temp_path("group");
        let journal = Arc::new(Journal::open(&path).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let journal = journal.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let r = row(&journal, &format!("{t}-{i}"));
                        journal.append(r).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let stats = journal.stats();
        assert_eq!(stats.pending, 400);
        assert!(stats.commits <= 400, "{stats:?}");
        journal.remove(1);
        journal.remove(2);
        journal.sync().unwrap();
        assert_eq!(journal.stats().pending, 398);
        drop(journal);
        let reopened = Journal::open(&path).unwrap();
        let rows = reopened.take_leftovers().unwrap();
        assert_eq!(rows.len(), 398);
        assert!(rows.iter().all(|r| r.id > 2));
        assert!(reopened.take_leftovers().is_none(), "handed out once");
        assert_eq!(reopened.next_id(), 401);
    }

    #[test]
    fn after_close_appends_are_refused() {
        let journal = Journal::open(&store::tests::temp_path("closed")).unwrap();
        journal.close();
        let err = journal.append(row(&journal, "late")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Shutdown);
        // A removal after the close is not written, and waiting for it does not hang.
        journal.remove(1);
        journal.sync().unwrap();
    }
}
