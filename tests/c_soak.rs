//! The C soak driver (`tests/soak_c/soak.c`): built with gcc and AddressSanitizer
//! (leak detection on) against the freshly built `librlc.so`, and run against the
//! chaos server (`mock_api::chaos`) on 127.0.0.1. Any ASan report, leak or broken
//! exactly-once promise fails it.
//!
//! `make test` runs the short version (`cargo test --test c_soak`); `make soak` the
//! long one. Length: `RLC_SOAK_SECONDS` (default 10) and `RLC_SOAK_REQUESTS` (default
//! 1,000,000 slots). `RLC_SOAK_SANITIZER=thread` builds with ThreadSanitizer instead,
//! and `RLC_SOAK_HELGRIND=1` runs an unsanitized build under valgrind's helgrind;
//! neither is part of `make test` (see the Makefile's `soak-tsan`, `soak-helgrind`).
//! Neither tool sees the synchronisation inside librlc (Rust's std and parking_lot
//! use futexes directly, uninstrumented), so both report hundreds of races on memory
//! that rlc's threads hand over correctly; those runs fail only on a race whose
//! racing access is in the C program.

mod native;

use std::path::PathBuf;
use std::process::Command;

use mock_api::chaos::{ChaosOptions, ChaosServer};
use native::{have, library_dir, link_args, root, scratch_dir};

const SUITE: &str = "c_soak";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.into())
}

/// Compiles `tests/soak_c/soak.c` with `sanitizer` ("address", "thread" or "").
fn compile(sanitizer: &str) -> PathBuf {
    assert!(have("gcc"), "the C soak needs gcc");
    let lib = library_dir(SUITE);
    let name = if sanitizer.is_empty() { "soak".to_string() } else { format!("soak-{sanitizer}") };
    let exe = scratch_dir(SUITE).join(name);
    let source = root().join("tests").join("soak_c").join("soak.c");
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=c11", "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE"]).args([
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-g",
        "-O1",
        "-fno-omit-frame-pointer",
    ]);
    if !sanitizer.is_empty() {
        cmd.arg(format!("-fsanitize={sanitizer}"));
    }
    let output = cmd
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

/// How the run is judged: ASan must be silent; TSan and helgrind, which cannot see
/// the synchronisation inside the (uninstrumented) Rust library and standard library,
/// are judged only on races whose racing access is in the C program itself.
#[derive(PartialEq)]
enum Judge {
    Silent,
    CSideRaces,
}

fn run(mut cmd: Command, what: &str, judge: Judge) {
    let server = ChaosServer::start(ChaosOptions::default());
    let seconds = env_or("RLC_SOAK_SECONDS", "10");
    let requests = env_or("RLC_SOAK_REQUESTS", "1000000");
    let output = cmd.arg(server.url()).arg(&seconds).arg(&requests).output().expect("run soak");
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{stderr}");
    eprintln!("c_soak ({what}): server: {}", server.stats().summary());
    assert!(stderr.contains("soak.c: OK"), "the C soak failed ({what}, {})", output.status);
    if judge == Judge::Silent {
        assert!(output.status.success(), "the C soak failed ({what}, {})", output.status);
        for marker in ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer"] {
            assert!(!stderr.contains(marker), "{what} reported: {marker}");
        }
        return;
    }
    let (total, c_side) = races(&stderr);
    eprintln!(
        "c_soak ({what}): {total} race report(s), {c_side} with the racing access in soak.c \
         (the others are inside librlc/std, whose synchronisation the tool cannot see)"
    );
    assert_eq!(c_side, 0, "{what}: a race in the C program's own accesses");
}

/// Race reports of TSan or helgrind, and how many have a frame of soak.c as the
/// first frame of an access.
fn races(log: &str) -> (usize, usize) {
    let (sep, conflict) = if log.contains("WARNING: ThreadSanitizer") {
        ("WARNING: ThreadSanitizer", "Thread T")
    } else {
        ("Possible data race", "Address 0x")
    };
    let reports: Vec<&str> = log.split(sep).skip(1).collect();
    let c_side = reports
        .iter()
        .filter(|r| {
            let head = r.split(conflict).next().unwrap_or("");
            // The first frame of each access that is not the tool's interceptor: the
            // frames after its "of size" line (TSan's "#n ...", helgrind's "at/by 0x...").
            let lines: Vec<&str> = head.lines().collect();
            lines.iter().enumerate().filter(|(_, l)| l.contains("of size")).any(|(i, _)| {
                lines[i + 1..]
                    .iter()
                    // This access's own stack only: up to the next blank line.
                    // (valgrind prefixes every line, blank ones too, with "==pid==").
                    .take_while(|l| {
                        !l.trim()
                            .trim_start_matches(|c: char| c == '=' || c.is_ascii_digit())
                            .trim()
                            .is_empty()
                    })
                    .filter(|l| l.contains("#") || l.contains(" at 0x") || l.contains(" by 0x"))
                    // Skip the tools' own interceptors (memcpy, strlen, free...).
                    .find(|l| {
                        !["libtsan", "sanitizer_common", "vgpreload", "tsan_interceptors"]
                            .iter()
                            .any(|tool| l.contains(tool))
                    })
                    .is_some_and(|frame| frame.contains("soak.c"))
            })
        })
        .count();
    (reports.len(), c_side)
}

#[test]
fn c_soak_under_asan() {
    if let Ok(s) = std::env::var("RLC_SOAK_SANITIZER") {
        if s == "thread" {
            let exe = compile("thread");
            let mut cmd = Command::new(exe);
            // Rust's std synchronises with futexes TSan does not see; its reports
            // inside librlc are printed, and only those are told apart below.
            cmd.env(
                "TSAN_OPTIONS",
                env_or("TSAN_OPTIONS", "halt_on_error=0 report_signal_unsafe=0"),
            );
            run(cmd, "ThreadSanitizer", Judge::CSideRaces);
            return;
        }
    }
    if std::env::var_os("RLC_SOAK_HELGRIND").is_some() {
        assert!(have("valgrind"), "helgrind needs valgrind");
        let exe = compile("");
        let mut cmd = Command::new("valgrind");
        cmd.args(["--tool=helgrind", "-q"]).arg(exe);
        run(cmd, "helgrind", Judge::CSideRaces);
        return;
    }
    let exe = compile("address");
    let mut cmd = Command::new(exe);
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:halt_on_error=1");
    run(cmd, "AddressSanitizer", Judge::Silent);
}
