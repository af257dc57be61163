//! `include/rlc.h` is generated from `src/ffi/` with the `cbindgen` crate (its
//! version pinned by Cargo.lock) and committed. These tests fail when it is stale,
//! when its version macros disagree with Cargo.toml, or when it does not compile
//! cleanly as C99 and C++17.
//!
//! Regenerate it with `make header` (`RLC_UPDATE_HEADER=1 cargo test --test header`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn header_path() -> PathBuf {
    root().join("include").join("rlc.h")
}

/// The RLC_VERSION_* macros, from Cargo.toml's version.
fn version_block() -> String {
    let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
    let minor: u32 = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap();
    let patch: u32 = env!("CARGO_PKG_VERSION_PATCH").parse().unwrap();
    assert!(minor < 256 && patch < 256, "RLC_VERSION_NUM packs minor and patch into a byte each");
    format!(
        "\n/* The version of this header; rlc_version() gives the library's. */\n\
         #define RLC_VERSION_MAJOR {major}\n\
         #define RLC_VERSION_MINOR {minor}\n\
         #define RLC_VERSION_PATCH {patch}\n\
         /* 0xMMmmpp: compare with #if RLC_VERSION_NUM >= 0x000100 */\n\
         #define RLC_VERSION_NUM 0x{num:06x}\n\
         #define RLC_VERSION_STRING \"{version}\"\n",
        num = (major << 16) | (minor << 8) | patch,
        version = env!("CARGO_PKG_VERSION"),
    )
}

fn generate() -> String {
    let mut config =
        cbindgen::Config::from_file(root().join("cbindgen.toml")).expect("read cbindgen.toml");
    config.after_includes = Some(version_block());
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root().join("src").join("ffi").join("mod.rs"))
        .generate()
        .expect("cbindgen could not generate the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn header_is_fresh() {
    let generated = generate();
    let path = header_path();
    if std::env::var("RLC_UPDATE_HEADER").is_ok_and(|v| !v.is_empty() && v != "0") {
        std::fs::write(&path, &generated).expect("write include/rlc.h");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let first_diff = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "include/rlc.h is stale: it differs from what src/ffi/ generates (first at line {}).\n\
             Regenerate it with `make header` (or `RLC_UPDATE_HEADER=1 cargo test --test header`) \
             and commit it.",
            first_diff + 1
        );
    }
}

fn header_define(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("include/rlc.h lacks {name}"))
        .trim()
        .to_string()
}

#[test]
fn version_macros_match_cargo_toml() {
    let header = std::fs::read_to_string(header_path()).expect("read include/rlc.h");
    let version = env!("CARGO_PKG_VERSION");
    let major = header_define(&header, "RLC_VERSION_MAJOR");
    let minor = header_define(&header, "RLC_VERSION_MINOR");
    let patch = header_define(&header, "RLC_VERSION_PATCH");
    assert_eq!(format!("{major}.{minor}.{patch}"), version);
    let num = header_define(&header, "RLC_VERSION_NUM");
    let num = u32::from_str_radix(num.trim_start_matches("0x"), 16).unwrap();
    let (ma, mi, pa): (u32, u32, u32) =
        (major.parse().unwrap(), minor.parse().unwrap(), patch.parse().unwrap());
    assert_eq!(num, (ma << 16) | (mi << 8) | pa);
    assert_eq!(header_define(&header, "RLC_VERSION_STRING"), format!("\"{version}\""));
    // The library says the same.
    let lib = unsafe { std::ffi::CStr::from_ptr(rlc::ffi::rlc_version()) };
    assert_eq!(lib.to_str().unwrap(), version);
}

fn compile(compiler: &str, args: &[&str], source: &Path, ext: &str) {
    if Command::new(compiler).arg("--version").output().is_err() {
        eprintln!("SKIPPED: {compiler} not found; the header was not compiled with it");
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("header");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("header_{ext}.o"));
    let output = Command::new(compiler)
        .args(args)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run the compiler");
    assert!(
        output.status.success(),
        "{compiler} {args:?} rejects include/rlc.h:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A translation unit that includes the header and uses each of its types.
const USE_HEADER: &str = r#"#include "rlc.h"
#if !defined(RLC_VERSION_NUM) || RLC_VERSION_NUM < 0
#error "RLC_VERSION_NUM"
#endif
static void on_done(void *user_data, rlc_request_id id, rlc_result result, const rlc_response *response) {
    (void)user_data; (void)id; (void)result; (void)response;
}
int rlc_header_user(void);
int rlc_header_user(void) {
    rlc_callback cb = on_done;
    rlc_metrics m;
    rlc_breaker_state s = RLC_BREAKER_HALF_OPEN;
    rlc_result r = RLC_E_PANIC;
    rlc_config *cfg = 0;
    rlc_client *client = 0;
    rlc_request *req = 0;
    rlc_response *resp = 0;
    m.breaker_state = s;
    (void)cb; (void)cfg; (void)client; (void)req; (void)resp;
    return (int)r + (int)m.breaker_state;
}
"#;

#[test]
fn header_compiles_as_c99_and_cpp17() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("header");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("use_header.c");
    let cpp = dir.join("use_header.cpp");
    std::fs::write(&c, USE_HEADER).unwrap();
    std::fs::write(&cpp, USE_HEADER).unwrap();
    compile("gcc", &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"], &c, "c");
    compile("g++", &["-std=c++17", "-Wall", "-Wextra", "-Werror"], &cpp, "cpp");
}
