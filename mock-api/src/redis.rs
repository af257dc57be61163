//! A real `redis-server` for tests, demos and benchmarks: started on a free
//! 127.0.0.1 port with persistence off (`--save '' --appendonly no`), stopped (killed
//! and reaped) on drop. It can be killed and started again on the same port, to test
//! what a client does while its Redis is away.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server` child process.
pub struct RedisServer {
    port: u16,
    password: Option<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// True when `redis-server` can be run (it is on `PATH`).
    pub fn available() -> bool {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts one on a free port, or says why it cannot.
    pub fn start() -> std::io::Result<RedisServer> {
        RedisServer::start_with(None)
    }

    /// Starts one that requires `password` (`requirepass`).
    pub fn start_with(password: Option<&str>) -> std::io::Result<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut server = RedisServer { port, password: password.map(str::to_owned), child: None };
        server.restart()?;
        Ok(server)
    }

    /// The port it listens on (kept across [`RedisServer::kill`] and restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/0`, with the password when one is required.
    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would; its data is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]) and
    /// waits until it answers PING.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .args(["--loglevel", "warning"]);
        if let Some(p) = &self.password {
            cmd.args(["--requirepass", p]);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(std::io::Error::other(format!("redis-server exited: {status}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(std::io::Error::other("redis-server did not answer PING within 10 s"))
    }

    /// Sends one raw command (RESP array of bulk strings) and returns the raw reply.
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut out = Vec::new();
        if let Some(p) = &self.password {
            out.extend(resp(&["AUTH", p]));
        }
        out.extend(resp(args));
        stream.write_all(&out)?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        // Enough for the short replies tests read: one read after the (optional) +OK.
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&reply);
            let lines = text.matches("\r\n").count();
            if lines >= if self.password.is_some() { 2 } else { 1 } {
                break;
            }
        }
        let text = String::from_utf8_lossy(&reply).into_owned();
        Ok(match &self.password {
            Some(_) => text.split_once("\r\n").map_or(text.clone(), |(_, rest)| rest.to_owned()),
            None => text,
        })
    }

    fn ping(&self) -> bool {
        self.command(&["PING"]).is_ok_and(|r| r.starts_with("+PONG"))
    }
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n{a}\r\n", a.len()).into_bytes());
    }
    out
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
