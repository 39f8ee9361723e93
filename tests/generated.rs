//! Completions (`completions/`) and the man page (`docs/pmap.1`) are generated from the CLI
//! definition. This test regenerates them in memory and fails if the committed files are
//! stale. To refresh them: `PMAP_REGENERATE=1 cargo test --test generated`.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "pmap.bash"),
        (Shell::Zsh, "_pmap"),
        (Shell::Fish, "pmap.fish"),
        (Shell::Elvish, "pmap.elv"),
        (Shell::PowerShell, "_pmap.ps1"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut pmap::cli::Cli::command(), "pmap", &mut out);
        files.push((root.join("completions").join(name), out));
    }
    let mut man = Vec::new();
    clap_mangen::Man::new(pmap::cli::Cli::command())
        .render(&mut man)
        .expect("render the man page");
    files.push((root.join("docs").join("pmap.1"), man));
    files
}

#[test]
fn completions_and_man_page_are_current() {
    let regenerate = std::env::var_os("PMAP_REGENERATE").is_some();
    let mut stale = Vec::new();
    for (path, content) in generated() {
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&content[..]) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (run `PMAP_REGENERATE=1 cargo test --test generated`): {}",
        stale.join(", ")
    );
}

#[test]
fn every_shell_completes_the_long_flags() {
    for (path, content) in generated() {
        if path.extension().is_some_and(|e| e == "1") {
            continue;
        }
        let text = String::from_utf8(content).unwrap();
        for flag in ["keep-order", "line-buffer", "joblog", "timeout", "pool"] {
            assert!(text.contains(flag), "{} lacks --{flag}", path.display());
        }
    }
}
