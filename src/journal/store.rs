//! The journal's file: an SQLite database (through `rusqlite`, with SQLite bundled),
//! in WAL mode with `synchronous=FULL`, held with an exclusive lock for as long as
//! the client lives.
//!
//! Everything here runs on a submitter's or the completion thread (the leader of a
//! group commit) or before any thread starts: never under the scheduler's lock.

use std::io::Read;
use std::path::Path;

use rusqlite::{params, Connection, ErrorCode, OpenFlags};

use crate::error::{Error, ErrorKind, Result};

/// `PRAGMA application_id` of an rlc journal: "rlcJ". A database with another id is
/// not ours and is never written to.
const APPLICATION_ID: i32 = 0x726c_634a;

/// The schema this rlc writes and reads (`PRAGMA user_version`). A journal from a
/// newer rlc is refused rather than misread.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// One journaled request, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    /// The journal's own key (not the request id, which is per process).
    pub id: i64,
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub priority: i32,
    /// The deadline as wall-clock milliseconds since the Unix epoch: it must mean the
    /// same instant to the next process.
    pub deadline_unix_ms: Option<i64>,
    pub tag: Option<String>,
    pub timeout_ms: Option<i64>,
    pub max_retries: Option<u32>,
    pub retry_unsafe: bool,
    pub cost: u32,
}

/// An open journal file, locked against every other connection.
pub(crate) struct Store {
    conn: Connection,
}

fn journal_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Journal, format!("journal {}: {what}", path.display()))
}

/// Says what a SQLite failure means for a journal, in words a user can act on.
fn explain(path: &Path, e: &rusqlite::Error) -> Error {
    let what = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "is locked by another live client (in this or another process); \
             one journal serves one client at a time"
                .to_string()
        }
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            format!("is corrupt ({e}); it was left untouched")
        }
        Some(ErrorCode::ReadOnly) => {
            format!("is read-only ({e}): rlc needs to write the file and its directory")
        }
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            format!("cannot be opened or created ({e}): is the directory there and writable?")
        }
        _ => format!("failed: {e}"),
    };
    journal_error(path, what)
}

/// Refuses a file that is there, not empty, and not an SQLite database: it is
/// someone else's, and SQLite must not be let near it.
fn check_not_foreign(path: &Path) -> Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(journal_error(path, format_args!("cannot be read: {e}"))),
    };
    let meta = file.metadata().map_err(|e| journal_error(path, e))?;
    if !meta.is_file() {
        return Err(journal_error(path, "is not a regular file"));
    }
    let mut head = [0u8; 16];
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(journal_error(path, format_args!("cannot be read: {e}"))),
        }
    }
    if read == 0 || &head == SQLITE_MAGIC {
        return Ok(());
    }
    Err(journal_error(
        path,
        "is not an rlc journal (not an SQLite database); it was left untouched: \
         choose another path",
    ))
}

impl Store {
    /// Opens (or creates) the journal at `path`, takes its lock for the life of the
    /// store, and checks that it is rlc's, of a schema this rlc reads, and intact.
    pub fn open(path: &Path) -> Result<Store> {
        check_not_foreign(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| explain(path, &e))?;
        let store = Store { conn };
        store.prepare(path).map_err(|e| match e {
            Prepare::Sqlite(e) => explain(path, &e),
            Prepare::Refused(e) => e,
        })?;
        Ok(store)
    }

    fn prepare(&self, path: &Path) -> std::result::Result<(), Prepare> {
        let c = &self.conn;
        // Never wait for a lock: another live client holds it, and that is an error.
        c.busy_timeout(std::time::Duration::ZERO)?;
        // Exclusive: the first write takes the file lock and keeps it until the
        // connection closes (or the process dies, when the OS lets go of it).
        c.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        let application_id: i32 = c.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version: i32 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tables: i64 = c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        let fresh = application_id == 0 && version == 0 && tables == 0;
        if !fresh && application_id != APPLICATION_ID {
            return Err(Prepare::Refused(journal_error(
                path,
                "is an SQLite database that is not an rlc journal; it was left untouched: \
                 choose another path",
            )));
        }
        if version > SCHEMA_VERSION {
            return Err(Prepare::Refused(journal_error(
                path,
                format_args!(
                    "was written by a newer rlc (journal schema {version}; this rlc reads \
                     {SCHEMA_VERSION}); it was left untouched"
                ),
            )));
        }
        let mode: String = c.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Prepare::Refused(journal_error(
                path,
                format_args!("cannot be put in WAL mode (it stays in {mode} mode)"),
            )));
        }
        c.pragma_update(None, "synchronous", "FULL")?;
        if !fresh {
            let check: String = c.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(Prepare::Refused(journal_error(
                    path,
                    format_args!("is corrupt ({check}); it was left untouched"),
                )));
            }
        }
        // A write, in every case: it takes the exclusive lock now, not at the first
        // submit, so that a second client fails at open.
        c.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             CREATE TABLE IF NOT EXISTS requests (
                 id INTEGER PRIMARY KEY,
                 method TEXT NOT NULL,
                 target TEXT NOT NULL,
                 headers BLOB NOT NULL,
                 body BLOB NOT NULL,
                 priority INTEGER NOT NULL,
                 deadline_unix_ms INTEGER,
                 tag TEXT,
                 timeout_ms INTEGER,
                 max_retries INTEGER,
                 retry_unsafe INTEGER NOT NULL,
                 cost INTEGER NOT NULL
             );
             PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {SCHEMA_VERSION};
             COMMIT;"
        ))?;
        Ok(())
    }

    /// Every request the journal holds, oldest first.
    pub fn load(&self) -> Result<Vec<Row>> {
        let read = || -> rusqlite::Result<Vec<Row>> {
            let mut stmt = self.conn.prepare(
                "SELECT id, method, target, headers, body, priority, deadline_unix_ms, tag,
                        timeout_ms, max_retries, retry_unsafe, cost
                 FROM requests ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                let headers: Vec<u8> = r.get(3)?;
                Ok(Row {
                    id: r.get(0)?,
                    method: r.get(1)?,
                    target: r.get(2)?,
                    headers: decode_headers(&headers),
                    body: r.get(4)?,
                    priority: r.get(5)?,
                    deadline_unix_ms: r.get(6)?,
                    tag: r.get(7)?,
                    timeout_ms: r.get(8)?,
                    max_retries: r.get(9)?,
                    retry_unsafe: r.get(10)?,
                    cost: r.get(11)?,
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| Error::new(ErrorKind::Journal, format!("journal: cannot read: {e}")))
    }

    /// Writes `appends` and deletes `removals` in one transaction: one fsync for all.
    pub fn commit(&mut self, appends: &[Row], removals: &[i64]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO requests (id, method, target, headers, body, priority,
                     deadline_unix_ms, tag, timeout_ms, max_retries, retry_unsafe, cost)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for row in appends {
                insert.execute(params![
                    row.id,
                    row.method,
                    row.target,
                    encode_headers(&row.headers),
                    row.body,
                    row.priority,
                    row.deadline_unix_ms,
                    row.tag,
                    row.timeout_ms,
                    row.max_retries,
                    row.retry_unsafe,
                    row.cost,
                ])?;
            }
            let mut delete = tx.prepare_cached("DELETE FROM requests WHERE id = ?1")?;
            for id in removals {
                delete.execute([id])?;
            }
        }
        tx.commit()
    }

    /// The largest id in the journal (0 when empty).
    pub fn max_id(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT coalesce(max(id), 0) FROM requests", [], |r| r.get(0))
            .map_err(|e| Error::new(ErrorKind::Journal, format!("journal: cannot read: {e}")))
    }
}

enum Prepare {
    Sqlite(rusqlite::Error),
    Refused(Error),
}

impl From<rusqlite::Error> for Prepare {
    fn from(e: rusqlite::Error) -> Self {
        Prepare::Sqlite(e)
    }
}

/// Headers as `name NUL value NUL ...`: neither may hold a NUL (refused at
/// `Request::header`), so the encoding is unambiguous.
fn encode_headers(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

fn decode_headers(bytes: &[u8]) -> Vec<(String, String)> {
    let mut parts = bytes.split(|&b| b == 0).map(|s| String::from_utf8_lossy(s).into_owned());
    let mut headers = Vec::new();
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        headers.push((name, value));
    }
    headers
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn row(id: i64) -> Row {
        Row {
            id,
            method: "POST".into(),
            target: format!("/items/{id}"),
            headers: vec![
                ("Idempotency-Key".into(), format!("k{id}")),
                ("X-Empty".into(), "".into()),
            ],
            body: vec![0, 1, 2, 255],
            priority: -3,
            deadline_unix_ms: Some(1_700_000_000_000 + id),
            tag: Some(format!("tag-{id}")),
            timeout_ms: None,
            max_retries: Some(2),
            retry_unsafe: true,
            cost: 3,
        }
    }

    pub(crate) fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rlc-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("journal.db")
    }

    #[test]
    fn rows_survive_a_reopen_and_removals_stick() {
        let path = temp_path("reopen");
        {
            let mut store = Store::open(&path).unwrap();
            store.commit(&[row(1), row(2), row(3)], &[]).unwrap();
            store.commit(&[row(4)], &[2]).unwrap();
        }
        let store = Store::open(&path).unwrap();
        let rows = store.load().unwrap();
        assert_eq!(rows, vec![row(1), row(3), row(4)]);
        assert_eq!(store.max_id().unwrap(), 4);
    }

    #[test]
    fn a_second_open_of_a_live_journal_is_refused() {
        let path = temp_path("locked");
        let first = Store::open(&path).unwrap();
        let err = Store::open(&path).err().expect("locked");
        assert_eq!(err.kind(), ErrorKind::Journal);
        assert!(err.message().contains("locked by another live client"), "{}", err.message());
        drop(first);
        Store::open(&path).expect("free again once the first is closed");
    }

    #[test]
    fn a_file_that_is_not_rlcs_is_refused_and_left_untouched() {
        let path = temp_path("foreign");
        std::fs::write(&path, b"my precious notes\n").unwrap();
        let err = Store::open(&path).err().expect("refused");
        assert!(err.message().contains("not an rlc journal"), "{}", err.message());
        assert_eq!(std::fs::read(&path).unwrap(), b"my precious notes\n");

        // An SQLite database of someone else's: refused too, and not written.
        let other = temp_path("foreign-sqlite");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let before = std::fs::read(&other).unwrap();
        let err = Store::open(&other).err().expect("refused");
        assert!(err.message().contains("not an rlc journal"), "{}", err.message());
        assert_eq!(std::fs::read(&other).unwrap(), before);
    }

    #[test]
    fn a_journal_from_a_newer_rlc_is_refused() {
        let path = temp_path("newer");
        drop(Store::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
        drop(c);
        let err = Store::open(&path).err().expect("refused");
        assert!(err.message().contains("newer rlc"), "{}", err.message());
    }

    #[test]
    fn a_corrupt_journal_is_refused_and_left_untouched() {
        let path = temp_path("corrupt");
        {
            let mut store = Store::open(&path).unwrap();
            let rows: Vec<Row> = (1..=200).map(row).collect();
            store.commit(&rows, &[]).unwrap();
        }
        // Checkpointed into the main file on close; scribble over its second page on.
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 8192, "{}", bytes.len());
        for b in &mut bytes[4096..] {
            *b = 0x5a;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = Store::open(&path).err().expect("refused");
        assert!(err.message().contains("corrupt"), "{}", err.message());
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn a_path_that_cannot_be_created_says_so() {
        let path = std::env::temp_dir().join("rlc-no-such-dir-journal/deeper/journal.db");
        let err = Store::open(&path).err().expect("refused");
        assert_eq!(err.kind(), ErrorKind::Journal);
        assert!(err.message().contains("cannot be opened or created"), "{}", err.message());
    }

    /// Makes `path` unwritable even for root (who ignores permission bits): the
    /// immutable attribute when `chattr` can set it, else mode 0444. False when
    /// neither keeps this process from writing.
    fn make_read_only(path: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt;
        let writable = || std::fs::OpenOptions::new().append(true).open(path).is_ok();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        if !writable() {
            return true;
        }
        let chattr = std::process::Command::new("chattr").arg("+i").arg(path).status();
        chattr.is_ok_and(|s| s.success()) && !writable()
    }

    #[test]
    fn a_read_only_journal_is_refused_and_left_untouched() {
        let path = temp_path("read-only");
        {
            let mut store = Store::open(&path).unwrap();
            store.commit(&[row(1)], &[]).unwrap();
        }
        if !make_read_only(&path) {
            eprintln!("skipped: this process can write a 0444 file and cannot set +i");
            return;
        }
        let before = std::fs::read(&path).unwrap();
        let err = Store::open(&path).err();
        let _ = std::process::Command::new("chattr").arg("-i").arg(&path).status();
        let err = err.expect("refused");
        assert_eq!(err.kind(), ErrorKind::Journal);
        assert!(err.message().contains("read-only"), "{}", err.message());
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn headers_round_trip() {
        let h = vec![("A".to_string(), "1".to_string()), ("B".into(), "".into())];
        assert_eq!(decode_headers(&encode_headers(&h)), h);
        assert!(decode_headers(&[]).is_empty());
    }
}
