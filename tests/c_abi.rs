//! The C test programs in `tests/c/`: each is compiled with gcc against
//! `include/rlc.h` and the freshly built `librlc.so`, and run with a mock API's base
//! URL as argv[1] -- under valgrind (leaks and memory errors fail it) when valgrind
//! is installed. `make test-c` runs this (`cargo test --test c_abi`); set
//! `RLC_NO_VALGRIND=1` to run the programs without valgrind.

mod native;

use std::path::PathBuf;
use std::process::Command;

use mock_api::raw::{RawBehaviour, RawServer};
use native::{have, library_dir, link_args, root, run_program, scratch_dir};

const SUITE: &str = "c_abi";

/// Compiles `tests/c/<name>.c` and returns the executable.
fn compile(name: &str) -> PathBuf {
    assert!(have("gcc"), "the C tests need gcc");
    let lib = library_dir(SUITE);
    let exe = scratch_dir(SUITE).join(name);
    let source = root().join("tests").join("c").join(format!("{name}.c"));
    let output = Command::new("gcc")
        .args([
            "-std=c11",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-g",
            "-O0",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .args(link_args(lib))
        .output()
        .expect("run gcc");
    assert!(
        output.status.success(),
        "gcc could not build {}:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Compiles and runs `tests/c/<name>.c` against a fresh mock API.
fn run_c(name: &str) {
    run_c_with(name, &[]);
}

/// [`run_c`], with more arguments after the mock API's URL.
fn run_c_with(name: &str, extra: &[String]) {
    run_program(SUITE, &compile(name), extra);
}

#[test]
fn c_bad_input() {
    run_c("bad_input");
}

#[test]
fn c_basic() {
    run_c("basic");
}

#[test]
fn c_journal() {
    let dir = scratch_dir(SUITE).join("journal-files");
    std::fs::create_dir_all(&dir).unwrap();
    run_c_with("journal", &[dir.display().to_string()]);
}

#[test]
fn c_hardening() {
    run_c("hardening");
}

#[test]
fn c_scheduling() {
    run_c("scheduling");
}

#[test]
fn c_resilience() {
    let malformed = RawServer::start(RawBehaviour::Malformed);
    let truncated = RawServer::start(RawBehaviour::Truncated);
    run_c_with("resilience", &[malformed.url(), truncated.url()]);
}

#[test]
fn c_graphql() {
    let endpoint = mock_api::graphql::CostServer::start(mock_api::graphql::CostModel {
        maximum: 1000.0,
        restore_rate: 50.0,
        catalog: 30,
        latency: std::time::Duration::ZERO,
    });
    run_c_with("graphql", &[endpoint.url()]);
}

#[test]
fn c_redis() {
    if !mock_api::redis::RedisServer::available() {
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return;
    }
    let redis = mock_api::redis::RedisServer::start().expect("start redis-server");
    run_c_with("redis", &[redis.url()]);
}

/// A new `tests/c/*.c` program needs its own `#[test]` above; this catches one that
/// would otherwise never run.
#[test]
fn every_c_program_has_a_test() {
    native::assert_all_programs_run(
        "c",
        "c",
        &["bad_input", "basic", "graphql", "hardening", "journal", "redis", "resilience", "scheduling"],
    );
}
