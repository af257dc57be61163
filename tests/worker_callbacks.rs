//! Callbacks on workers (`Config::callbacks_on_workers`): the completion contract
//! holds with the callbacks run on the worker that finished each request.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rlc::{Client, Config, ErrorKind};

fn on_workers(url: &str, workers: u32) -> Config {
    let mut cfg = config(url);
    cfg.workers(workers).unwrap().callbacks_on_workers(true);
    cfg
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn every_request_gets_one_callback_on_the_worker_that_finished_it() {
    let server = mock();
    let client = Arc::new(Client::new(on_workers(&server.url(), 4)).unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new((HashSet::new(), HashSet::new())));
    let n = 400;
    for _ in 0..n {
        let (calls, seen, inner) = (calls.clone(), seen.clone(), client.clone());
        client
            .submit(get("/ok"), 0, move |id, result| {
                assert_eq!(result.unwrap().status(), 200);
                // Inside, the client knows it is in a callback and refuses to block.
                assert!(inner.in_callback());
                let refused = inner.send(get("/ok"), 0).unwrap_err();
                assert_eq!(refused.kind(), ErrorKind::InvalidState);
                let mut seen = seen.lock().unwrap();
                assert!(seen.0.insert(id), "request {id} called back twice");
                seen.1.insert(thread_name());
                calls.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    assert!(!client.in_callback(), "outside a callback the client says so");
    let deadline = std::time::Instant::now() + PATIENCE;
    while Arc::strong_count(&client) > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    Arc::try_unwrap(client).ok().expect("every callback ran and let the client go").close();
    assert_eq!(calls.load(Ordering::SeqCst), n);
    let threads = &seen.lock().unwrap().1;
    assert!(threads.iter().all(|t| t.starts_with("rlc-worker-")), "{threads:?}");
    // The server answered every request exactly once: nothing was sent twice.
    assert_eq!(server.stats().received, n as u64);
}

#[test]
fn requests_the_client_completes_itself_still_come_on_the_completion_thread() {
    let server = mock();
    let client = Client::new(on_workers(&server.url(), 1)).unwrap();
    let names = Arc::new(Mutex::new(Vec::new()));
    type Seen = Arc<Mutex<Vec<(String, Option<ErrorKind>)>>>;
    let record = |names: &Seen| {
        let names = names.clone();
        move |_, result: rlc::Result<rlc::Response>| {
            names.lock().unwrap().push((thread_name(), result.err().map(|e| e.kind())));
        }
    };
    // The one worker is held by a slow request; the next one waits and is cancelled.
    client.submit(get("/slow/300"), 0, record(&names)).unwrap();
    let deadline = std::time::Instant::now() + PATIENCE;
    while client.metrics().in_flight == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let queued = client.submit(get("/ok"), 0, record(&names)).unwrap();
    client.cancel(queued).unwrap();
    client.close();
    let names = names.lock().unwrap();
    assert_eq!(names.len(), 2);
    let cancelled = names.iter().find(|(_, e)| *e == Some(ErrorKind::Cancelled)).unwrap();
    assert_eq!(cancelled.0, "rlc-completion");
    let answered = names.iter().find(|(_, e)| e.is_none()).unwrap_or_else(|| panic!("{names:?}"));
    assert_eq!(answered.0, "rlc-worker-0");
}

#[test]
fn freeing_the_client_inside_a_worker_callback_neither_hangs_nor_loses_a_callback() {
    let server = mock();
    let client = Box::new(Client::new(on_workers(&server.url(), 2)).unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let (freed_tx, freed_rx) = std::sync::mpsc::channel();
    // The client is handed to the first callback, which frees it; the others finish.
    let holder: Arc<Mutex<Option<Box<Client>>>> = Arc::new(Mutex::new(None));
    let n = 50;
    for i in 0..n {
        let (calls, holder, freed_tx) = (calls.clone(), holder.clone(), freed_tx.clone());
        let path = if i == 0 { "/slow/50" } else { "/ok" };
        client
            .submit(get(path), 0, move |_, _| {
                calls.fetch_add(1, Ordering::SeqCst);
                if let Some(client) = holder.lock().unwrap().take() {
                    client.free();
                    freed_tx.send(()).unwrap();
                }
            })
            .unwrap();
    }
    *holder.lock().unwrap() = Some(client);
    freed_rx.recv_timeout(Duration::from_secs(30)).expect("a callback freed the client");
    // Every accepted request still gets its callback (answered or shut down).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while calls.load(Ordering::SeqCst) < n && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(calls.load(Ordering::SeqCst), n);
}
