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

use native::{
    have, library_dir, link_args, root, run_program, scratch_dir, without_cargo_test_env,
};

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
    let _one_at_a_time = serialized();
    run_program(SUITE, &compile(name), &[])
}

/// The programs are built and run one at a time (cargo runs tests in parallel):
/// client_test checks the order of requests that it submits within one 250 ms token,
/// which a compile, a CMake build or a second program under valgrind beside it can
/// stretch past the token (it did, with json_test and the CMake test added).
fn serialized() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// GraphQL through the wrapper, against mock-api's Shopify-cost-model endpoint.
#[test]
fn cpp_graphql() {
    let endpoint = mock_api::graphql::CostServer::start(mock_api::graphql::CostModel {
        maximum: 1000.0,
        restore_rate: 50.0,
        catalog: 30,
        latency: std::time::Duration::ZERO,
    });
    let _one_at_a_time = serialized();
    run_program(SUITE, &compile("graphql_test"), &[endpoint.url()]);
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
    native::assert_all_programs_run(
        "cpp",
        "cpp",
        &["client_test", "graphql_test", "json_test", "redis_test"],
    );
}

/// The shared limit through rlc.hpp, against a redis-server started here.
#[test]
fn cpp_redis() {
    if !mock_api::redis::RedisServer::available() {
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return;
    }
    let redis = mock_api::redis::RedisServer::start().expect("start redis-server");
    let _one_at_a_time = serialized();
    run_program(SUITE, &compile("redis_test"), &[redis.url()]);
}

/// The JSON helpers of rlc.hpp, compiled with Debian's nlohmann-json3-dev (which
/// `.ci/run` installs); the program refuses to compile without it.
#[test]
fn cpp_json_helpers() {
    let stderr = run_cpp("json_test");
    assert!(!stderr.contains("CHECK failed"), "json_test reported failures");
}

/// `make install` gives a CMake package: a project outside the repository that says
/// find_package(rlc) and links rlc::rlc configures, builds a C and a C++ program
/// against the install alone, and both run against a mock API.
#[test]
fn cmake_find_package_after_make_install() {
    assert!(have("cmake"), "this test needs cmake (.ci/run installs it)");
    assert!(have("make"), "this test needs make");
    let _one_at_a_time = serialized(); // a build and two programs: see serialized()
    let scratch = scratch_dir(SUITE).join("cmake");
    let _ = std::fs::remove_dir_all(&scratch);
    let prefix = scratch.join("prefix");
    let source = scratch.join("src");
    let build = scratch.join("build");
    std::fs::create_dir_all(&source).unwrap();

    // make install runs `cargo build --release --lib`: without this test's cargo
    // variables, or it would redo the release build (see without_cargo_test_env).
    let mut make = Command::new("make");
    without_cargo_test_env(&mut make);
    let output = make
        .arg("-C")
        .arg(root())
        .args(["--no-print-directory", "install"])
        .arg(format!("PREFIX={}", prefix.display()))
        .output()
        .expect("run make install");
    assert!(
        output.status.success(),
        "make install failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    std::fs::write(
        source.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.16)\n\
         project(rlc_consumer C CXX)\n\
         find_package(rlc 0.1 REQUIRED)\n\
         add_executable(consumer_c main.c)\n\
         set_target_properties(consumer_c PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)\n\
         target_link_libraries(consumer_c PRIVATE rlc::rlc)\n\
         add_executable(consumer_cpp main.cpp)\n\
         set_target_properties(consumer_cpp PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)\n\
         target_link_libraries(consumer_cpp PRIVATE rlc::rlc)\n",
    )
    .unwrap();
    std::fs::write(
        source.join("main.c"),
        "#include <rlc.h>\n#include <stdio.h>\n\
         int main(int argc, char **argv) {\n\
           if (argc < 2) return 2;\n\
           rlc_config *cfg = rlc_config_new();\n\
           rlc_client *client = NULL;\n\
           if (rlc_config_set_base_url(cfg, argv[1]) != RLC_OK || rlc_client_new(cfg, &client) != RLC_OK) return 1;\n\
           rlc_config_free(cfg);\n\
           rlc_response *resp = NULL;\n\
           rlc_result r = rlc_send(client, rlc_request_new(\"GET\", \"/ok\"), 0, &resp);\n\
           int ok = r == RLC_OK && rlc_response_status(resp) == 200;\n\
           printf(\"consumer_c: %s %s\\n\", rlc_version(), ok ? \"ok\" : \"FAILED\");\n\
           if (r == RLC_OK) rlc_response_free(resp);\n\
           rlc_client_free(client);\n\
           return ok ? 0 : 1;\n\
         }\n",
    )
    .unwrap();
    std::fs::write(
        source.join("main.cpp"),
        "#include <rlc.hpp>\n#include <cstdio>\n\
         int main(int argc, char **argv) {\n\
           if (argc < 2) return 2;\n\
           rlc::Client client(rlc::Config().base_url(argv[1]));\n\
           rlc::Response r = client.send(rlc::Request(\"GET\", \"/ok\"));\n\
           std::printf(\"consumer_cpp: %s\\n\", r.status() == 200 ? \"ok\" : \"FAILED\");\n\
           return r.status() == 200 ? 0 : 1;\n\
         }\n",
    )
    .unwrap();

    let cmake = |args: &[&std::ffi::OsStr], what: &str| {
        let output = Command::new("cmake").args(args).output().expect("run cmake");
        assert!(
            output.status.success(),
            "cmake {what} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let prefix_arg = format!("-DCMAKE_PREFIX_PATH={}", prefix.display());
    cmake(
        &["-S".as_ref(), source.as_os_str(), "-B".as_ref(), build.as_os_str(), prefix_arg.as_ref()],
        "configure",
    );
    cmake(&["--build".as_ref(), build.as_os_str()], "build");

    // CMake's build-tree rpath points at the install's lib directory: nothing else
    // tells the programs where librlc.so.0 is.
    for exe in ["consumer_c", "consumer_cpp"] {
        run_program(SUITE, &build.join(exe), &[]);
    }
}
