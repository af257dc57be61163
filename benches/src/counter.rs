//! A tiny HTTP/1.1 server on 127.0.0.1 that answers every request with `200 ok` and
//! records the monotonic time at which each request line arrived. nginx cannot give
//! per-request timestamps at this resolution, and the client's own send times are
//! not visible from outside rlc, so rate precision is judged where a real API would
//! judge it: at the server.
//!
//! One thread per connection (clients keep at most a few dozen connections open);
//! `TCP_NODELAY`; keep-alive. Paths starting with `/__` are control requests and are
//! not counted: `GET /__take` answers with every timestamp recorded so far
//! (nanoseconds since the server started, one per line, sorted) and clears them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

/// A running counter server. Its threads live until the process exits.
pub struct Counter {
    port: u16,
    stamps: Arc<Mutex<Vec<u64>>>,
    origin: Instant,
}

impl Counter {
    /// Binds a free port on 127.0.0.1 (or `port` when not 0) and starts serving.
    pub fn start(port: u16) -> std::io::Result<Counter> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let stamps = Arc::new(Mutex::new(Vec::with_capacity(1 << 16)));
        let origin = Instant::now();
        let shared = stamps.clone();
        thread::Builder::new().name("counter-accept".into()).spawn(move || {
            for stream in listener.incoming().flatten() {
                let stamps = shared.clone();
                let _ = thread::Builder::new()
                    .name("counter-conn".into())
                    .spawn(move || serve(stream, stamps, origin));
            }
        })?;
        Ok(Counter { port, stamps, origin })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Nanoseconds since the server started (the clock of the timestamps).
    pub fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Takes every timestamp recorded so far, sorted, and clears them.
    pub fn take(&self) -> Vec<u64> {
        let mut v = std::mem::take(&mut *self.stamps.lock().unwrap());
        v.sort_unstable();
        v
    }
}

fn serve(stream: TcpStream, stamps: Arc<Mutex<Vec<u64>>>, origin: Instant) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.trim().is_empty() {
            continue; // stray CRLF between requests
        }
        let at = origin.elapsed().as_nanos() as u64;
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut content_length = 0usize;
        let mut close = line.trim_end().ends_with("HTTP/1.0");
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        if content_length > 0 {
            let mut body = vec![0u8; content_length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        let body = if path.starts_with("/__take") {
            let taken = std::mem::take(&mut *stamps.lock().unwrap());
            let mut sorted = taken;
            sorted.sort_unstable();
            let mut s = String::with_capacity(sorted.len() * 12);
            for t in sorted {
                s.push_str(&t.to_string());
                s.push('\n');
            }
            s
        } else {
            if !path.starts_with("/__") {
                stamps.lock().unwrap().push(at);
            }
            "ok".to_string()
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        let mut response = head.into_bytes();
        response.extend_from_slice(body.as_bytes());
        if out.write_all(&response).is_err() || close {
            return;
        }
    }
}
