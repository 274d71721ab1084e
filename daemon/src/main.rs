//! The `hadir` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    hadir::memory::tune_allocator();
    hadir::cli::main()
}
