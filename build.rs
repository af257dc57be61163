//! Gives the shared library its soname, `librlc.so.0`, so that programs linked
//! against it keep working across compatible releases (the 0 changes when the ABI
//! breaks, e.g. when `rlc_metrics` gains a field).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "macos" && os != "ios" && os != "windows" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librlc.so.0");
    }
}
