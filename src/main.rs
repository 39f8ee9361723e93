//! The `pmap` binary: everything lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    pmap::main_with_args(std::env::args_os()).into()
}
