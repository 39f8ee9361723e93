//! The `pmap` binary: everything lives in the library.

use std::process::ExitCode;

/// Run by the loader before `main`, while the signal dispositions are still the ones pmap
/// inherited: Rust's runtime sets SIGPIPE to ignored before `main` starts.
// SAFETY: `.init_array` holds plain `extern "C" fn()` pointers run once at start-up; the
// function only reads signal dispositions and stores an atomic.
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_INHERITED_SIGNALS: extern "C" fn() = pmap::signals::note_inherited;

fn main() -> ExitCode {
    pmap::main_with_args(std::env::args_os()).into()
}
