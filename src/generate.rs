//! `pmap --generate KIND`: the shell completion scripts and the man page, made from the
//! command-line definition in [`crate::cli`], as ripgrep's `--generate` does. Packagers and
//! users get them from the installed binary, without the source tree.
//!
//! The same [`generate`] makes the copies committed in `completions/` and `docs/pmap.1`;
//! `tests/generated.rs` checks that they are current. Like `--help` and `--version`, the
//! file is printed before any job machinery exists, so it is written here, not by `collect`.

use std::io::Write;

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::exit::Outcome;

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    CompleteBash,
    CompleteZsh,
    CompleteFish,
    CompleteElvish,
    CompletePowershell,
    Man,
}

impl Kind {
    /// Every kind, in the order `--help` lists them.
    pub const ALL: [Kind; 6] = [
        Kind::CompleteBash,
        Kind::CompleteZsh,
        Kind::CompleteFish,
        Kind::CompleteElvish,
        Kind::CompletePowershell,
        Kind::Man,
    ];

    /// Where the committed copy lives, relative to the repository root.
    pub fn committed_path(self) -> &'static str {
        match self {
            Kind::CompleteBash => "completions/pmap.bash",
            Kind::CompleteZsh => "completions/_pmap",
            Kind::CompleteFish => "completions/pmap.fish",
            Kind::CompleteElvish => "completions/pmap.elv",
            Kind::CompletePowershell => "completions/_pmap.ps1",
            Kind::Man => "docs/pmap.1",
        }
    }
}

/// The file's contents.
pub fn generate(kind: Kind) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    let shell = match kind {
        Kind::CompleteBash => Shell::Bash,
        Kind::CompleteZsh => Shell::Zsh,
        Kind::CompleteFish => Shell::Fish,
        Kind::CompleteElvish => Shell::Elvish,
        Kind::CompletePowershell => Shell::PowerShell,
        Kind::Man => {
            clap_mangen::Man::new(command)
                .render(&mut out)
                .expect("writing to a Vec cannot fail");
            return out;
        }
    };
    clap_complete::generate(shell, &mut command, "pmap", &mut out);
    out
}

/// `pmap --generate KIND`: writes the file to standard output. A reader that closed the
/// pipe early (`pmap --generate man | head`) is a quiet success.
pub fn print(kind: Kind) -> Outcome {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(&generate(kind))
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Outcome::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Outcome::Success,
        Err(e) => {
            eprintln!("pmap: cannot write output: {e}");
            Outcome::Error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_under_its_flag_value() {
        let names: Vec<String> = Kind::ALL
            .iter()
            .map(|k| k.to_possible_value().unwrap().get_name().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "complete-bash",
                "complete-zsh",
                "complete-fish",
                "complete-elvish",
                "complete-powershell",
                "man"
            ]
        );
        assert_eq!(Kind::value_variants(), Kind::ALL);
    }

    #[test]
    fn the_man_page_is_roff_for_pmap() {
        let man = String::from_utf8(generate(Kind::Man)).unwrap();
        assert!(man.contains(".TH pmap 1"), "{man}");
        assert!(man.contains("generate"), "the man page lists --generate");
    }
}
