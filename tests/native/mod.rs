//! What the C and C++ test drivers share: building and finding `librlc.so`, and
//! running a test program against a mock API under valgrind (leaks and memory errors
//! fail it) when valgrind is installed. Set `RLC_NO_VALGRIND=1` to run without it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mock_api::{MockApi, MockOptions};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory of this test binary's own (`suite` keeps the C and C++
/// drivers apart, so they may run at once).
pub fn scratch_dir(suite: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(suite);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where this test's own executable lives: `<target>/<profile>/deps/<test>-*`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("deps/");
    deps.parent().expect("<target>/<profile>/").to_path_buf()
}

/// Builds the cdylib for the profile this test was built with, into the same target
/// directory, and copies it to `<scratch>/lib` as both `librlc.so` (to link) and
/// `librlc.so.0` (its soname, to run). Returns that directory.
pub fn library_dir(suite: &str) -> &'static Path {
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
        let status = without_cargo_test_env(&mut Command::new(cargo))
            .args(["build", "--lib", "--profile", &profile, "--manifest-path"])
            .arg(root().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed");
        let built = profile_dir.join("librlc.so");
        assert!(built.exists(), "{} was not built", built.display());
        let dir = scratch_dir(suite).join("lib");
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["librlc.so", "librlc.so.0"] {
            let tmp = dir.join(format!("{name}.tmp"));
            std::fs::copy(&built, &tmp).unwrap();
            std::fs::rename(&tmp, dir.join(name)).unwrap();
        }
        dir
    })
}

/// Removes from `cmd` the variables cargo sets for a running test (CARGO_MANIFEST_DIR,
/// CARGO_PKG_*, OUT_DIR, LD_LIBRARY_PATH, ...). A cargo started with them rebuilds
/// every crate whose build script watches one with rerun-if-env-changed (ring does),
/// and the next cargo started without them rebuilds them all again.
pub fn without_cargo_test_env(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let from_cargo =
            (name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR")
                || ["OUT_DIR", "LD_LIBRARY_PATH", "RUST_RECURSION_COUNT"].contains(&name.as_ref());
        if from_cargo {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd
}

/// The linker arguments for `librlc` in `lib`, with an rpath so the program finds it.
pub fn link_args(lib: &Path) -> Vec<String> {
    vec![
        format!("-L{}", lib.display()),
        format!("-Wl,-rpath,{}", lib.display()),
        "-lrlc".into(),
        "-pthread".into(),
    ]
}

pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

fn use_valgrind(suite: &str) -> bool {
    static USE: OnceLock<bool> = OnceLock::new();
    *USE.get_or_init(|| {
        if std::env::var_os("RLC_NO_VALGRIND").is_some() {
            eprintln!("{suite}: RLC_NO_VALGRIND is set: running the programs WITHOUT valgrind");
            false
        } else if have("valgrind") {
            true
        } else {
            eprintln!("{suite}: valgrind not found: running the programs WITHOUT valgrind (no leak check)");
            false
        }
    })
}

/// Runs `exe` with a fresh mock API's URL and then `extra` as arguments, under
/// valgrind when it is there; echoes its output, fails the test if it failed, and
/// returns its stderr.
pub fn run_program(suite: &str, exe: &Path, extra: &[String]) -> String {
    let api = MockApi::start(MockOptions::default());
    let valgrind = use_valgrind(suite);
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--quiet",
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ]);
        c.arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let output = cmd.arg(api.url()).args(extra).output().expect("run the test program");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "{} failed ({}{})",
        exe.display(),
        output.status,
        if valgrind { ", under valgrind" } else { "" }
    );
    stderr
}

/// Every `tests/<dir>/*.<ext>` program must be in `run` (which its driver runs), so
/// that a new one cannot silently never run.
pub fn assert_all_programs_run(dir: &str, ext: &str, run: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(root().join("tests").join(dir))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == ext)
                .then(|| path.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    found.sort();
    assert_eq!(found, run, "add a #[test] for each program in tests/{dir} (and list it there)");
}
