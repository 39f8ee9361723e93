//! Completions (`completions/`) and the man page (`docs/pmap.1`) are generated from the CLI
//! definition by `pmap::generate`, the code behind `pmap --generate KIND`. These tests check
//! that the committed files equal what the library makes and what the binary prints. To
//! refresh them: `PMAP_REGENERATE=1 cargo test --test generated`.

mod common;

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use pmap::generate::{Kind, generate};

/// KIND as `--generate` spells it.
fn flag_value(kind: Kind) -> String {
    let value = kind.to_possible_value().expect("every kind has a name");
    value.get_name().to_owned()
}

/// Every kind with its committed path and its freshly generated contents.
fn generated() -> Vec<(Kind, PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Kind::ALL
        .into_iter()
        .map(|kind| (kind, root.join(kind.committed_path()), generate(kind)))
        .collect()
}

#[test]
fn completions_and_man_page_are_current() {
    let regenerate = std::env::var_os("PMAP_REGENERATE").is_some();
    let mut stale = Vec::new();
    for (_, path, content) in generated() {
        if regenerate {
            std::fs::write(&path, &content)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
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
    for (kind, path, content) in generated() {
        if kind == Kind::Man {
            continue;
        }
        let text = String::from_utf8(content).expect("completions are UTF-8");
        for flag in [
            "keep-order",
            "line-buffer",
            "joblog",
            "timeout",
            "pool",
            "generate",
        ] {
            assert!(text.contains(flag), "{} lacks --{flag}", path.display());
        }
    }
}

/// `pmap --generate KIND` prints the committed file byte for byte, with no command and no
/// input, and exits 0.
#[test]
fn the_binary_prints_the_committed_files() {
    for kind in [Kind::Man, Kind::CompleteBash] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(kind.committed_path());
        let committed =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        common::run(["--generate", &flag_value(kind)], "").ok(&committed);
    }
}

#[test]
fn every_kind_is_printed_whatever_else_is_on_the_command_line() {
    for (kind, _, content) in generated() {
        let args = ["-j2", "--generate", &flag_value(kind), "echo", ":::", "a"];
        common::run(args, "never read").ok(&content);
    }
}

#[test]
fn an_unknown_kind_is_a_usage_error() {
    let out = common::run(["--generate", "complete-tcsh"], "");
    let line = out.usage_error();
    assert!(
        line.contains("'complete-tcsh'") && line.contains("--generate"),
        "{line}"
    );
}
