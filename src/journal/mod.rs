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
//! **Group commit** (leader and followers, as databases do it). A submitter queues
//! its row and waits for its batch; when nobody is writing, the first to wait becomes
//! the leader: it takes everything queued (appends and removals alike), commits it in
//! one transaction, one fsync, and wakes the others, while those who queued meanwhile
//! form the next batch. A lone submitter pays one fsync and no thread hand-off; the
//! more threads submit, the more each fsync carries. No disk I/O ever happens under
//! the scheduler's lock.
//!
//! **Ordering, and the guarantee.** A row is written before `submit` returns `Ok`;
//! it is deleted after the request's callback has returned, and the completion
//! thread waits for the deletions to be on disk after every 16 callbacks (and at the
//! end of each batch) before it runs more. So after a crash the next process recovers
//! exactly the requests that had not finished: those queued, those in flight or
//! answered with their callback still to run (which reached the server: they are sent
//! again, with the same `Idempotency-Key`), and at most 16 whose callback had run but
//! whose deletion was not yet on disk (sent and called back again). A request whose
//! deletion was on disk is never sent again. This is at-least-once,
//! never at-most-once: nothing accepted is lost. A request that ends with `Shutdown`
//! (the client closed before sending it) stays in the journal for the next process.

mod entry;
mod store;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, ErrorKind, Result};
pub(crate) use entry::{check_tag, from_row, remove_after, to_row};
pub(crate) use store::Row;
use store::Store;

/// What waits to be written, and how far the writing got.
#[derive(Default)]
struct Queue {
    appends: Vec<Row>,
    removals: Vec<i64>,
    /// The batch that new work joins.
    open: u64,
    /// Every batch up to this one is on disk (or failed).
    done: u64,
    /// True while a leader commits batch `open - 1`.
    leader: bool,
    /// Batches that failed, with why (kept for the last few hundred batches).
    failures: Vec<(u64, String)>,
    /// No appends any more (the journal is closing).
    stopping: bool,
    /// The file is closed: nothing handed in now will be written.
    closed: bool,
}

/// An open journal, and the requests an earlier process left in it.
///
/// Group commit without a thread of its own (leader and followers, as databases do
/// it): whoever waits for a batch that nobody is writing becomes its leader, takes
/// everything queued, commits it in one transaction and wakes the others; those who
/// queued meanwhile join the next batch, which one of them leads when this one is
/// done. A lone submitter thus pays one fsync and no thread hand-off; many share one.
pub(crate) struct Journal {
    queue: Mutex<Queue>,
    /// Followers wait here for their batch.
    committed: Condvar,
    /// Taken by the leader only, for the length of a commit.
    store: Mutex<Option<Store>>,
    commits: AtomicU64,
    pending: AtomicU64,
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
    /// journal, and reads what an earlier process left.
    pub fn open(path: &Path) -> Result<Journal> {
        let store = Store::open(path)?;
        let leftovers = store.load()?;
        let next_id = store.max_id()? + 1;
        Ok(Journal {
            queue: Mutex::new(Queue { open: 1, ..Queue::default() }),
            committed: Condvar::new(),
            store: Mutex::new(Some(store)),
            commits: AtomicU64::new(0),
            pending: AtomicU64::new(leftovers.len() as u64),
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
        let mut q = self.queue.lock();
        if q.stopping {
            return Err(Error::new(ErrorKind::Shutdown, "the journal is closed"));
        }
        q.appends.push(row);
        let batch = q.open;
        self.wait_for(q, batch)
    }

    /// Deletes row `id` in the next batch; [`Journal::sync`] waits for it.
    pub fn remove(&self, id: i64) {
        self.queue.lock().removals.push(id);
    }

    /// Waits until everything handed in so far is on disk (writing it, if nobody is).
    pub fn sync(&self) -> Result<()> {
        let q = self.queue.lock();
        let batch = if !q.appends.is_empty() || !q.removals.is_empty() {
            q.open
        } else if q.leader {
            q.open - 1
        } else {
            return Ok(());
        };
        self.wait_for(q, batch)
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
            pending: self.pending.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            recovered: self.recovered.load(Ordering::Relaxed),
        }
    }

    /// Writes what is pending and closes the file (letting go of its lock).
    /// Idempotent; later appends fail, and later removals are not written.
    pub fn close(&self) {
        self.queue.lock().stopping = true;
        let _ = self.sync();
        // A leader holds the store for the length of its commit: this waits for it.
        drop(self.store.lock().take());
        self.queue.lock().closed = true;
        self.committed.notify_all();
    }

    /// Waits until batch `batch` is done, leading it when nobody else is writing;
    /// its error, if it failed.
    fn wait_for<'a>(&'a self, mut q: MutexGuard<'a, Queue>, batch: u64) -> Result<()> {
        while q.done < batch {
            if q.closed {
                return Err(Error::new(
                    ErrorKind::Journal,
                    "journal: closed before this was written",
                ));
            }
            if q.leader {
                self.committed.wait(&mut q);
                continue;
            }
            // Nobody writes: lead the open batch (ours: every earlier one is done).
            q.leader = true;
            let appends = std::mem::take(&mut q.appends);
            let removals = std::mem::take(&mut q.removals);
            let this = q.open;
            q.open += 1;
            drop(q);
            let outcome = self.commit(&appends, &removals);
            q = self.queue.lock();
            if let Err(why) = outcome {
                q.failures.push((this, why));
                if q.failures.len() > 256 {
                    q.failures.remove(0);
                }
            }
            q.done = this;
            q.leader = false;
            self.committed.notify_all();
        }
        match q.failures.iter().find(|(b, _)| *b == batch) {
            Some((_, why)) => Err(Error::new(ErrorKind::Journal, why.clone())),
            None => Ok(()),
        }
    }

    /// One transaction for a batch; a panic inside is a failed batch, not a leader
    /// that never hands over.
    fn commit(&self, appends: &[Row], removals: &[i64]) -> std::result::Result<(), String> {
        let mut store = self.store.lock();
        let Some(store) = store.as_mut() else {
            return Err("journal: closed before this was written".to_string());
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| store.commit(appends, removals)));
        match outcome {
            Ok(Ok(())) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                let (added, removed) = (appends.len() as u64, removals.len() as u64);
                let _ = self.pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                    Some((p + added).saturating_sub(removed))
                });
                Ok(())
            }
            Ok(Err(e)) => Err(format!("journal: the write failed: {e}")),
            Err(_) => Err("journal: the write panicked".to_string()),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
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
        let journal = std::sync::Arc::new(Journal::open(&path).unwrap());
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
        assert_eq!(journal.sync().unwrap_err().kind(), ErrorKind::Journal);
    }
}
