//! TCP servers that misbehave below HTTP, for transport-error tests.
//!
//! Each [`RawServer`] listens on a free port of `127.0.0.1` and treats every
//! connection according to its [`RawBehaviour`]. Plain std threads are used;
//! [`RawServer::stop`] (or drop) stops and joins all of them.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often blocked loops look at the stop flag.
const POLL: Duration = Duration::from_millis(10);
/// How long to wait for the end of a request's headers.
const READ_REQUEST_FOR: Duration = Duration::from_secs(5);

/// What a [`RawServer`] does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawBehaviour {
    /// Accept, read the request head, then close with a TCP RST
    /// (`SO_LINGER` 0).
    ResetOnAccept,
    /// Answer `"HTTP/1.1 abc\r\nfoo\r\n\r\n"`, then close.
    Malformed,
    /// Accept and read, but never answer until the server is stopped.
    Hang,
    /// Send a head with `Content-Length: 100`, then only 10 body bytes,
    /// then close.
    Truncated,
}

/// A misbehaving TCP server; stops on [`RawServer::stop`] or drop.
pub struct RawServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Binds a free port on `127.0.0.1` and starts accepting.
    ///
    /// # Panics
    /// If no port can be bound or the thread cannot be spawned.
    pub fn start(behaviour: RawBehaviour) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("raw server: bind");
        listener.set_nonblocking(true).expect("raw server: set_nonblocking");
        let addr = listener.local_addr().expect("raw server: local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let (s, c) = (stop.clone(), connections.clone());
        let thread = std::thread::Builder::new()
            .name("mock-raw-accept".into())
            .spawn(move || accept_loop(listener, behaviour, s, c))
            .expect("raw server: spawn");
        RawServer { addr, stop, connections, thread: Some(thread) }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL without trailing slash, e.g. `"http://127.0.0.1:41234"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Number of connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes open connections and joins all threads.
    pub fn stop(self) {
        // Drop does the work.
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for RawServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

fn accept_loop(
    listener: TcpListener,
    behaviour: RawBehaviour,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                count.fetch_add(1, Ordering::SeqCst);
                let s = stop.clone();
                let spawned = std::thread::Builder::new()
                    .name("mock-raw-conn".into())
                    .spawn(move || handle(stream, behaviour, &s));
                if let Ok(h) = spawned {
                    workers.push(h);
                }
                workers.retain(|h| !h.is_finished());
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => std::thread::sleep(POLL),
        }
    }
    drop(listener);
    for w in workers {
        let _ = w.join();
    }
}

fn handle(mut stream: TcpStream, behaviour: RawBehaviour, stop: &AtomicBool) {
    // Accepted sockets may inherit non-blocking mode on some platforms.
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_nodelay(true);
    read_head(&mut stream, stop);
    match behaviour {
        RawBehaviour::ResetOnAccept => {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        RawBehaviour::Malformed => {
            let _ = stream.write_all(b"HTTP/1.1 abc\r\nfoo\r\n\r\n");
            close_gently(stream, stop);
        }
        RawBehaviour::Truncated => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789",
            );
            close_gently(stream, stop);
        }
        RawBehaviour::Hang => {
            // Keep reading (and discarding) until stopped or the peer leaves.
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                match stream.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => return,
                }
            }
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

/// Reads until the end of the request head (`\r\n\r\n`), EOF, error, stop or
/// timeout.
fn read_head(stream: &mut TcpStream, stop: &AtomicBool) {
    let deadline = Instant::now() + READ_REQUEST_FOR;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                if head.windows(4).any(|w| w == b"\r\n\r\n") {
                    return;
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

/// Half-closes, then drains what the peer still sends (briefly) so that the
/// close is a FIN rather than an RST caused by unread data.
fn close_gently(mut stream: TcpStream, stop: &AtomicBool) {
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(200);
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}
