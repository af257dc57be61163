//! The timestamping HTTP server as a process of its own, for the peer programs
//! (Node, Go, Python) and the C ABI program: prints `PORT <n>` and serves until it is
//! killed. `GET /__take` returns and clears the arrival timestamps (ns, one a line).

use std::io::Write;

fn main() {
    let args = rlc_bench::Args::parse();
    let counter = rlc_bench::counter::Counter::start(args.num("port", 0)).expect("bind 127.0.0.1");
    println!("PORT {}", counter.port());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
