//! `rlc-mock-api`: the mock HTTP API as a standalone program, for the C, Go
//! and Node examples.
//!
//! ```text
//! rlc-mock-api [--port N] [--limit MAX/WINDOW_MS] [--exit-on-stdin-eof]
//! ```
//!
//! Prints exactly one line, `listening on http://127.0.0.1:PORT`, to stdout,
//! then serves until SIGTERM or SIGINT (or, with `--exit-on-stdin-eof`, until
//! stdin reaches end of file).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use mock_api::{MockApi, MockOptions};

const USAGE: &str = "usage: rlc-mock-api [--port N] [--limit MAX/WINDOW_MS] [--exit-on-stdin-eof]";

struct Args {
    opts: MockOptions,
    exit_on_stdin_eof: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args { opts: MockOptions::default(), exit_on_stdin_eof: false };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline.clone().or_else(|| args.next()).ok_or(format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--port" => {
                let v = value("--port")?;
                out.opts.port = v.parse().map_err(|_| format!("bad port: {v}"))?;
            }
            "--limit" => {
                let v = value("--limit")?;
                let bad = || format!("bad limit (want MAX/WINDOW_MS, e.g. 20/1000): {v}");
                let (max, ms) = v.split_once('/').ok_or_else(bad)?;
                let max: u32 = max.trim().parse().map_err(|_| bad())?;
                let ms: u64 = ms.trim().parse().map_err(|_| bad())?;
                if ms == 0 {
                    return Err(bad());
                }
                out.opts.rate_limit = Some((max, Duration::from_millis(ms)));
            }
            "--exit-on-stdin-eof" => out.exit_on_stdin_eof = true,
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    Ok(out)
}

/// Resolves once stdin reaches end of file (never, if `enabled` is false).
async fn stdin_eof(enabled: bool) {
    if !enabled {
        return std::future::pending::<()>().await;
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // A plain (detached) thread: tokio's stdin would keep the runtime from
    // shutting down while blocked in a read.
    let spawned = std::thread::Builder::new().name("stdin-watch".into()).spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = tx.send(());
    });
    if spawned.is_ok() {
        let _ = rx.await;
    } else {
        std::future::pending::<()>().await
    }
}

/// Registers the signal handlers, announces readiness, then resolves when
/// the process should exit.
async fn announce_and_wait(url: &str, exit_on_stdin_eof: bool) -> std::io::Result<()> {
    // Register handlers before announcing readiness, so a SIGTERM sent right
    // after the line is read is handled gracefully.
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?)
    };
    let mut out = std::io::stdout().lock();
    // A vanished reader is not a reason to stop serving.
    let _ = writeln!(out, "listening on {url}").and_then(|()| out.flush());
    drop(out);
    #[cfg(unix)]
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = stdin_eof(exit_on_stdin_eof) => {}
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = stdin_eof(exit_on_stdin_eof) => {}
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("rlc-mock-api: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rlc-mock-api: cannot create runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let api = match MockApi::try_start(args.opts) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("rlc-mock-api: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let waited = rt.block_on(announce_and_wait(&api.url(), args.exit_on_stdin_eof));
    api.stop();
    match waited {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rlc-mock-api: cannot install signal handlers: {e}");
            ExitCode::FAILURE
        }
    }
}
