//! `rlc-demo` (`make demo`): rlc against an embedded mock API, on 127.0.0.1 only.
//!
//! About 500 requests in three priorities go to a mock API that enforces a
//! rolling-window rate limit, and a share goes to a second service that is down,
//! through a client of its own. Progress shows live; at the end a table tells how
//! each priority fared and whether the API's limit held, and a timeline is written
//! to `target/demo/timeline.svg`. Exits non-zero if the API's limit was broken.
//! Meanwhile a third service, whose limit is unpublished, is reached through an
//! adaptive client and a fixed-rate one (`hidden.rs`), compared after the table; and
//! two clients share one limit through Redis when `redis-server` is installed
//! (`shared.rs`).

mod hidden;
mod report;
mod run;
mod shared;
mod timeline;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let started = Instant::now();
    let hidden = std::thread::spawn(hidden::run);
    let shared = std::thread::spawn(shared::run);
    let data = match run::run() {
        Ok(data) => data,
        Err(e) => {
            eprintln!("rlc-demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The workspace's target/ directory, wherever cargo builds.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/demo");
    let svg = dir.join("timeline.svg");
    if let Err(e) =
        std::fs::create_dir_all(&dir).map_err(Into::into).and_then(|()| timeline::draw(&svg, &data))
    {
        eprintln!("rlc-demo: could not write {}: {e}", svg.display());
    }
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| svg.canonicalize().ok()?.strip_prefix(cwd).ok().map(PathBuf::from))
        .unwrap_or(svg);
    let ok = report::print(&data, &shown, started.elapsed());
    match hidden.join() {
        Ok(Ok(hidden)) => hidden::print(&hidden),
        Ok(Err(e)) => eprintln!("rlc-demo: the unpublished-limit service: {e}"),
        Err(_) => eprintln!("rlc-demo: the unpublished-limit service panicked"),
    }
    match shared.join() {
        Ok(Ok(data)) => shared::print(&data),
        Ok(Err(e)) => eprintln!("rlc-demo: the shared limit: {e}"),
        Err(_) => eprintln!("rlc-demo: the shared limit scene panicked"),
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
