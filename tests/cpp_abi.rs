//! The C++ binding, `bindings/cpp/rlc.hpp`: the programs in `tests/cpp/` are compiled
//! with g++ as C++17 (`-Wall -Wextra -Werror -pedantic`) against the freshly built
//! `librlc.so` and run with a mock API's base URL as argv[1] -- under valgrind (leaks
//! and memory errors fail it) when valgrind is installed. `make test-cpp` runs this
//! (`cargo test --test cpp_abi`); set `RLC_NO_VALGRIND=1` to run without valgrind.
//!
//! The library is built and found as in `tests/c_abi.rs`, into a directory of its own
//! so that the two tests may run at once.

mod native;

use std::path::PathBuf;
use std::process::{Command, Output};

use native::{have, library_dir, link_args, root, run_program, scratch_dir};

const SUITE: &str = "cpp_abi";

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
    let lib = library_dir(SUITE);
    let exe = scratch_dir(SUITE).join(name);
    let source = root().join("tests").join("cpp").join(format!("{name}.cpp"));
    let output =
        gxx().arg(&source).arg("-o").arg(&exe).args(link_args(lib)).output().expect("run g++");
    check_compiled(output, &source.display().to_string());
    exe
}

/// Compiles and runs `tests/cpp/<name>.cpp` against a fresh mock API; returns its
/// stderr (already echoed).
fn run_cpp(name: &str) -> String {
    run_program(SUITE, &compile(name), &[])
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
    let source = scratch_dir(SUITE).join("header_only.cpp");
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
    native::assert_all_programs_run("cpp", "cpp", &["client_test"]);
}
