//! The `hadir` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    hadir::cli::main()
}
