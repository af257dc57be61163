//! The C test programs in `tests/c/`: each is compiled with gcc against
//! `include/rlc.h` and the freshly built `librlc.so`, and run with a mock API's base
//! URL as argv[1] -- under valgrind (leaks and memory errors fail it) when valgrind
//! is installed. `make test-c` runs this (`cargo test --test c_abi`); set
//! `RLC_NO_VALGRIND=1` to run the programs without valgrind.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mock_api::raw::{RawBehaviour, RawServer};
use mock_api::{MockApi, MockOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where this test's own executable lives: `<target>/<profile>/deps/c_abi-*`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("deps/");
    deps.parent().expect("<target>/<profile>/").to_path_buf()
}

/// Builds the cdylib for the profile this test was built with, into the same target
/// directory, and copies it to a private directory as both `librlc.so` (to link)
/// and `librlc.so.0` (its soname, to run). Returns that directory.
fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let profile_dir = profile_dir();
        let target_dir = profile_dir.parent().expect("<target>/");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev".to_string(),
            Some(other) => other.to_string(),
            None => panic!("cannot tell the profile from {}", profile_dir.display()),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--lib", "--profile", &profile, "--manifest-path"])
            .arg(root().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed");
        let built = profile_dir.join("librlc.so");
        assert!(built.exists(), "{} was not built", built.display());
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_abi").join("lib");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["librlc.so", "librlc.so.0"] {
            let tmp = dir.join(format!("{name}.tmp"));
            std::fs::copy(&built, &tmp).unwrap();
            std::fs::rename(&tmp, dir.join(name)).unwrap();
        }
        dir
    })
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

fn use_valgrind() -> bool {
    static USE: OnceLock<bool> = OnceLock::new();
    *USE.get_or_init(|| {
        if std::env::var_os("RLC_NO_VALGRIND").is_some() {
            eprintln!("c_abi: RLC_NO_VALGRIND is set: running the C tests WITHOUT valgrind");
            false
        } else if have("valgrind") {
            true
        } else {
            eprintln!(
                "c_abi: valgrind not found: running the C tests WITHOUT valgrind (no leak check)"
            );
            false
        }
    })
}

/// Compiles `tests/c/<name>.c` and returns the executable.
fn compile(name: &str) -> PathBuf {
    assert!(have("gcc"), "the C tests need gcc");
    let lib = library_dir();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_abi");
    let exe = out_dir.join(name);
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
        .arg("-L")
        .arg(lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrlc", "-pthread"])
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
    let exe = compile(name);
    let api = MockApi::start(MockOptions { port: 0, rate_limit: None });
    let mut cmd = if use_valgrind() {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ]);
        c.arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let output = cmd.arg(api.url()).args(extra).output().expect("run the C test program");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "C test {name} failed ({}{})",
        output.status,
        if use_valgrind() { ", under valgrind" } else { "" }
    );
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
fn c_scheduling() {
    run_c("scheduling");
}

#[test]
fn c_resilience() {
    let malformed = RawServer::start(RawBehaviour::Malformed);
    let truncated = RawServer::start(RawBehaviour::Truncated);
    run_c_with("resilience", &[malformed.url(), truncated.url()]);
}

/// A new `tests/c/*.c` program needs its own `#[test]` above; this catches one that
/// would otherwise never run.
#[test]
fn every_c_program_has_a_test() {
    const RUN: [&str; 4] = ["bad_input", "basic", "resilience", "scheduling"];
    let mut found: Vec<String> = std::fs::read_dir(root().join("tests").join("c"))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "c")
                .then(|| path.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    found.sort();
    assert_eq!(found, RUN, "add a #[test] for each program in tests/c (and list it here)");
}
