//! A chaos server for soak tests: plain HTTP/1.1 over TCP on `127.0.0.1`, where each
//! request draws a behaviour at random: a normal 200, a delayed 200, a dropped or
//! reset connection, garbage, a truncated body, a 429 with a short `Retry-After`, a
//! 5xx, or a redirect loop.
//!
//! Paths choose a fixed behaviour instead of a random one:
//!
//! | path | answer |
//! |---|---|
//! | `/ok` | 200, body `ok` |
//! | `/loop` | 302 to `/loop` (itself), for ever |
//! | `/pingpong/a`, `/pingpong/b` | 302 to the other one, for ever |
//! | anything else | a random behaviour, drawn by [`ChaosOptions`]' weights |
//!
//! Connections are kept alive after a well-formed answer and closed after a
//! misbehaving one. One std thread serves each connection; [`ChaosServer::stop`]
//! (or drop) stops and joins all of them.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often blocked loops look at the stop flag.
const POLL: Duration = Duration::from_millis(10);
/// How long an idle keep-alive connection is held open.
const IDLE: Duration = Duration::from_secs(30);
/// The largest request head or body read.
const MAX_REQUEST: usize = 1 << 20;

/// What the chaos server may do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// 200 with a short body.
    Ok,
    /// 200 after a delay of up to [`ChaosOptions::max_delay`].
    Delay,
    /// Close the connection without answering (FIN).
    Drop,
    /// Close the connection with a TCP RST.
    Reset,
    /// Random bytes, or a malformed status line, then close.
    Garbage,
    /// A head promising more body than is sent, then close.
    Truncated,
    /// 429 with `Retry-After: 0` (or, rarely, a few seconds: see
    /// [`ChaosOptions::long_retry_after_one_in`]).
    TooMany,
    /// 500, 502, 503 or 504.
    ServerError,
    /// 302 to the same path.
    RedirectSelf,
    /// 302 to `/pingpong/a`, which redirects to `/pingpong/b` and back.
    RedirectPingPong,
}

/// Every behaviour, in the order of [`ChaosOptions::weights`].
pub const BEHAVIOURS: [Behaviour; 10] = [
    Behaviour::Ok,
    Behaviour::Delay,
    Behaviour::Drop,
    Behaviour::Reset,
    Behaviour::Garbage,
    Behaviour::Truncated,
    Behaviour::TooMany,
    Behaviour::ServerError,
    Behaviour::RedirectSelf,
    Behaviour::RedirectPingPong,
];

/// How a [`ChaosServer`] draws behaviours.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// Relative weights, one per entry of [`BEHAVIOURS`].
    pub weights: [u32; 10],
    /// The longest delay of [`Behaviour::Delay`].
    pub max_delay: Duration,
    /// One 429 in this many carries `Retry-After: 1` instead of `0` (0: never).
    pub long_retry_after_one_in: u64,
    /// Seed of the random draws (0: from the clock).
    pub seed: u64,
}

impl Default for ChaosOptions {
    /// Mostly 200s (80 %), with a little of every kind of trouble; delays up to
    /// 50 ms; one 429 in 200 asks for a 1 s pause.
    fn default() -> Self {
        ChaosOptions {
            //        ok delay drop reset garbage trunc 429 5xx self pingpong
            weights: [800, 40, 20, 10, 20, 10, 30, 50, 10, 10],
            max_delay: Duration::from_millis(50),
            long_retry_after_one_in: 200,
            seed: 0,
        }
    }
}

/// Counts of what the server did, by behaviour.
#[derive(Debug, Default)]
pub struct ChaosStats {
    counts: [AtomicU64; 10],
    connections: AtomicU64,
}

impl ChaosStats {
    /// How many requests got `b`.
    pub fn count(&self, b: Behaviour) -> u64 {
        let i = BEHAVIOURS.iter().position(|&x| x == b).unwrap_or(0);
        self.counts[i].load(Ordering::Relaxed)
    }

    /// Every request answered (or not) so far.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// One line: `ok=.. delay=.. ...`.
    pub fn summary(&self) -> String {
        BEHAVIOURS
            .iter()
            .zip(&self.counts)
            .map(|(b, c)| format!("{b:?}={}", c.load(Ordering::Relaxed)))
            .collect::<Vec<_>>()
            .join(" ")
            + &format!(" connections={}", self.connections())
    }

    fn record(&self, b: Behaviour) {
        let i = BEHAVIOURS.iter().position(|&x| x == b).unwrap_or(0);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// A running chaos server; stops on [`ChaosServer::stop`] or drop.
pub struct ChaosServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stats: Arc<ChaosStats>,
    thread: Option<JoinHandle<()>>,
}

impl ChaosServer {
    /// Binds a free port on `127.0.0.1` and starts serving.
    ///
    /// # Panics
    /// If no port can be bound or the thread cannot be spawned.
    pub fn start(options: ChaosOptions) -> ChaosServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("chaos server: bind");
        listener.set_nonblocking(true).expect("chaos server: set_nonblocking");
        let addr = listener.local_addr().expect("chaos server: local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ChaosStats::default());
        let seed = if options.seed == 0 {
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
        } else {
            options.seed
        };
        let (s, st) = (stop.clone(), stats.clone());
        let options = Arc::new(options);
        let thread = std::thread::Builder::new()
            .name("mock-chaos-accept".into())
            .spawn(move || accept_loop(listener, options, seed, s, st))
            .expect("chaos server: spawn");
        ChaosServer { addr, stop, stats, thread: Some(thread) }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL without trailing slash, e.g. `"http://127.0.0.1:41234"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the server did so far.
    pub fn stats(&self) -> &ChaosStats {
        &self.stats
    }

    /// Stops accepting, closes open connections and joins all threads.
    pub fn stop(self) {
        // Drop does the work.
    }
}

impl Drop for ChaosServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for ChaosServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaosServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// xorshift64*: good enough to pick behaviours, and no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    options: Arc<ChaosOptions>,
    seed: u64,
    stop: Arc<AtomicBool>,
    stats: Arc<ChaosStats>,
) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                stats.connections.fetch_add(1, Ordering::Relaxed);
                n += 1;
                let rng = Rng((seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
                let (s, st, o) = (stop.clone(), stats.clone(), options.clone());
                let spawned = std::thread::Builder::new()
                    .name("mock-chaos-conn".into())
                    .spawn(move || serve_connection(stream, rng, &o, &s, &st));
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

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

/// Reads one request; returns its path, or None when the peer left, the server
/// stops, or the request is unreadable. `buf` carries bytes read past a request.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, stop: &AtomicBool) -> Option<String> {
    let idle_until = Instant::now() + IDLE;
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if stop.load(Ordering::SeqCst) || Instant::now() > idle_until || buf.len() > MAX_REQUEST {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(_) => return None,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return None;
    }
    while buf.len() < head_end + length {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(_) => return None,
        }
    }
    buf.drain(..head_end + length);
    Some(path)
}

fn pick(rng: &mut Rng, options: &ChaosOptions) -> Behaviour {
    let total: u64 = options.weights.iter().map(|&w| u64::from(w)).sum();
    let mut r = rng.below(total.max(1));
    for (b, &w) in BEHAVIOURS.iter().zip(&options.weights) {
        if r < u64::from(w) {
            return *b;
        }
        r -= u64::from(w);
    }
    Behaviour::Ok
}

fn respond(stream: &mut TcpStream, status: &str, extra: &str, body: &str) -> bool {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).is_ok()
}

/// Half-closes, then drains briefly, so the close is a FIN, not an RST.
fn close_gently(mut stream: TcpStream, stop: &AtomicBool) {
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(100);
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

fn serve_connection(
    mut stream: TcpStream,
    mut rng: Rng,
    options: &ChaosOptions,
    stop: &AtomicBool,
    stats: &ChaosStats,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    while let Some(path) = read_request(&mut stream, &mut buf, stop) {
        let route = path.split('?').next().unwrap_or("");
        let behaviour = match route {
            "/ok" => Behaviour::Ok,
            "/loop" => Behaviour::RedirectSelf,
            "/pingpong/a" | "/pingpong/b" => Behaviour::RedirectPingPong,
            _ => pick(&mut rng, options),
        };
        stats.record(behaviour);
        let keep = match behaviour {
            Behaviour::Ok => respond(&mut stream, "200 OK", "", "ok"),
            Behaviour::Delay => {
                let ms = options.max_delay.as_millis() as u64;
                let until = Instant::now() + Duration::from_millis(rng.below(ms + 1));
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
                }
                respond(&mut stream, "200 OK", "", "ok, late")
            }
            Behaviour::Drop => {
                close_gently(stream, stop);
                return;
            }
            Behaviour::Reset => {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                return;
            }
            Behaviour::Garbage => {
                let junk: Vec<u8> = match rng.below(3) {
                    0 => b"HTTP/1.1 abc\r\nfoo\r\n\r\n".to_vec(),
                    1 => b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nxx".to_vec(),
                    _ => (0..1 + rng.below(512)).map(|_| rng.next() as u8).collect(),
                };
                let _ = stream.write_all(&junk);
                close_gently(stream, stop);
                return;
            }
            Behaviour::Truncated => {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789",
                );
                close_gently(stream, stop);
                return;
            }
            Behaviour::TooMany => {
                let n = options.long_retry_after_one_in;
                let secs = if n > 0 && rng.below(n) == 0 { 1 } else { 0 };
                respond(
                    &mut stream,
                    "429 Too Many Requests",
                    &format!("Retry-After: {secs}\r\n"),
                    "slow down",
                )
            }
            Behaviour::ServerError => {
                let status = [
                    "500 Internal Server Error",
                    "502 Bad Gateway",
                    "503 Service Unavailable",
                    "504 Gateway Timeout",
                ][rng.below(4) as usize];
                respond(&mut stream, status, "", "oops")
            }
            Behaviour::RedirectSelf => {
                respond(&mut stream, "302 Found", &format!("Location: {path}\r\n"), "")
            }
            Behaviour::RedirectPingPong => {
                let to = if route == "/pingpong/a" { "/pingpong/b" } else { "/pingpong/a" };
                respond(&mut stream, "302 Found", &format!("Location: {to}\r\n"), "")
            }
        };
        if !keep {
            return;
        }
    }
}
