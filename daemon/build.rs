//! Link settings of the `hadir` binary.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    // Relative relocations packed (DT_RELR, glibc >= 2.36): the loader reads a few KiB instead of
    // a ~2 MB `.rela.dyn` at every start, and those pages no longer stay in the resident set.
    if target.contains("linux-gnu") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
