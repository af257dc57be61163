//! The C++ binding, `bindings/cpp/rlc.hpp`: the programs in `tests/cpp/` are compiled
//! with g++ as C++17 (`-Wall -Wextra -Werror -pedantic`) against the freshly built
//! `librlc.so` and run with a mock API's base URL as argv[1] -- under valgrind (leaks
//! and memory errors fail it) when valgrind is installed. `make test-cpp` runs this
//! (`cargo test --test cpp_abi`); set `RLC_NO_VALGRIND=1` to run without valgrind.
//!
//! The library is built and found as in `tests/c_abi.rs`, into a directory of its own
//! so that the two tests may run at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use mock_api::{MockApi, MockOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where this test's own executable lives: `<target>/<profile>/deps/cpp_abi-*`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("deps/");
    deps.parent().expect("<target>/<profile>/").to_path_buf()
}

/// Builds the cdylib for this test's profile into the same target directory, and
/// copies it to a private directory as `librlc.so` (to link) and `librlc.so.0` (its
/// soname, to run). Returns that directory.
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
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cpp_abi").join("lib");
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
            eprintln!("cpp_abi: RLC_NO_VALGRIND is set: running the C++ tests WITHOUT valgrind");
            false
        } else if have("valgrind") {
            true
        } else {
            eprintln!(
                "cpp_abi: valgrind not found: running the C++ tests WITHOUT valgrind (no leak check)"
            );
            false
        }
    })
}

/// g++ as a C++17 compiler that takes every warning as an error, with `include/` and
/// `bindings/cpp/` on the include path.
fn gxx() -> Command {
    assert!(have("g++"), "the C++ tests need g++");
    let mut cmd = Command::new("g++");
    cmd.args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O0"])
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("bindings").join("cpp"));
    cmd
}

fn check_compiled(output: Output, what: &str) {
    assert!(
        output.status.success(),
        "g++ could not build {what}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Compiles `tests/cpp/<name>.cpp` and returns the executable.
fn compile(name: &str) -> PathBuf {
    let lib = library_dir();
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cpp_abi").join(name);
    let source = root().join("tests").join("cpp").join(format!("{name}.cpp"));
    let output = gxx()
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lrlc", "-pthread"])
        .output()
        .expect("run g++");
    check_compiled(output, &source.display().to_string());
    exe
}

/// Compiles and runs `tests/cpp/<name>.cpp` against a fresh mock API; returns its
/// stderr (already echoed).
fn run_cpp(name: &str) -> String {
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
    let output = cmd.arg(api.url()).output().expect("run the C++ test program");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "C++ test {name} failed ({}{})",
        output.status,
        if use_valgrind() { ", under valgrind" } else { "" }
    );
    stderr
}

#[test]
fn cpp_client() {
    let stderr = run_cpp("client_test");
    // The callbacks that threw were reported, and the program went on to pass.
    assert!(
        stderr.contains("threw: boom from a callback (ignored)"),
        "a std::exception from a callback must be reported on stderr"
    );
    assert!(
        stderr.contains("threw (ignored)"),
        "an exception of another type from a callback must be reported on stderr"
    );
}

/// Users compile with more warnings than the tests do: the header alone must stay
/// clean under the pickiest common ones.
#[test]
fn cpp_header_compiles_with_strict_warnings() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cpp_abi");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("header_only.cpp");
    // Included twice: the include guard must hold.
    let text = "#include \"rlc.hpp\"\n#include \"rlc.hpp\"\nint main() { return 0; }\n";
    std::fs::write(&source, text).unwrap();
    let output = gxx()
        .args([
            "-fsyntax-only",
            "-Wshadow",
            "-Wconversion",
            "-Wsign-conversion",
            "-Wold-style-cast",
            "-Wnon-virtual-dtor",
            "-Wundef",
        ])
        .arg(&source)
        .output()
        .expect("run g++");
    check_compiled(output, "a file including only rlc.hpp");
}

/// A new `tests/cpp/*.cpp` program needs its own `#[test]` above; this catches one
/// that would otherwise never run.
#[test]
fn every_cpp_program_has_a_test() {
    const RUN: [&str; 1] = ["client_test"];
    let mut found: Vec<String> = std::fs::read_dir(root().join("tests").join("cpp"))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "cpp")
                .then(|| path.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    found.sort();
    assert_eq!(found, RUN, "add a #[test] for each program in tests/cpp (and list it here)");
}
