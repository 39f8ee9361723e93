//! A remote job's shell line, placed: run in `--wd`'s directory, with `--env`'s variables
//! and bash functions defined. What comes out is still one POSIX sh line for the wrapper
//! of [`super::ssh`]; with a function among `--env`'s, it hands the job to `bash`, the only
//! shell that reads an exported function.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::config::WorkDir;
use crate::remote::ssh::{exec_line, words_line};
use crate::template::Rendered;
use crate::template::single_quote_into as quote_into;

/// What places every remote job of a run.
#[derive(Debug, Clone, Default)]
pub struct RemotePlacement {
    /// `--wd`, as the remote side sees it.
    pub workdir: Option<WorkDir>,
    /// `--env`: (name, value) pairs; a function's name is `BASH_FUNC_NAME%%`.
    pub env: Vec<(OsString, OsString)>,
}

impl RemotePlacement {
    /// From `--wd` and `--env`. `--wd .` is this directory's path relative to `$HOME`, as
    /// GNU parallel takes it for remote hosts (where the login directory is the home one).
    pub fn new(workdir: Option<&WorkDir>, env: &[(OsString, OsString)]) -> Self {
        let workdir = workdir.map(|w| match w {
            WorkDir::Dir(dir) if dir.as_os_str() == "." => WorkDir::Dir(here_from_home()),
            other => other.clone(),
        });
        RemotePlacement {
            workdir,
            env: env.to_vec(),
        }
    }

    /// Whether a job's line changes at all.
    pub fn is_empty(&self) -> bool {
        self.workdir.is_none() && self.env.is_empty()
    }

    /// Whether the job runs under bash: `--env` names a function.
    pub fn needs_bash(&self) -> bool {
        self.env
            .iter()
            .any(|(name, _)| function_name(name).is_some())
    }

    /// The shell line a remote job (an ssh host's, a Slurm step's) runs for `rendered`,
    /// placed: a command of words is `exec`ed, or with `bash_function` (an exported
    /// function, sent with `--env`) called.
    pub fn job_line(&self, rendered: &Rendered, bash_function: bool) -> Vec<u8> {
        let line = match rendered {
            Rendered::Argv(argv) if bash_function => words_line(argv),
            Rendered::Argv(argv) => exec_line(argv),
            Rendered::ShellLine(line) => line.clone(),
        };
        if self.is_empty() {
            line
        } else {
            self.place(&line)
        }
    }

    /// `line`, placed. A line that `exec`s its program is run in a subshell when a fresh
    /// directory must be removed after it.
    pub fn place(&self, line: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(line.len() + 256);
        for (name, value) in &self.env {
            match function_name(name) {
                Some(function) => {
                    out.extend_from_slice(function);
                    out.push(b' ');
                    out.extend_from_slice(value.as_bytes());
                    out.extend_from_slice(b"\nexport -f ");
                    out.extend_from_slice(function);
                }
                None => {
                    out.extend_from_slice(name.as_bytes());
                    out.push(b'=');
                    quote_into(value.as_bytes(), &mut out);
                    out.extend_from_slice(b"; export ");
                    out.extend_from_slice(name.as_bytes());
                }
            }
            out.push(b'\n');
        }
        match &self.workdir {
            None => out.extend_from_slice(line),
            Some(WorkDir::Dir(dir)) => {
                out.extend_from_slice(b"cd -- ");
                quote_into(dir.as_os_str().as_bytes(), &mut out);
                out.extend_from_slice(b" || exit 1\n");
                out.extend_from_slice(line);
            }
            Some(WorkDir::Fresh) => {
                out.extend_from_slice(FRESH_DIR.as_bytes());
                out.extend_from_slice(b"(\n");
                out.extend_from_slice(line);
                out.extend_from_slice(b"\n)");
            }
        }
        if !self.needs_bash() {
            return out;
        }
        let mut bash = b"exec bash -c ".to_vec();
        quote_into(&out, &mut bash);
        bash
    }
}

/// `--wd ...` on a remote host: a fresh directory, removed when the job ends or is ended.
const FRESH_DIR: &str = r#"d=$(mktemp -d "${TMPDIR:-/tmp}/pmap-wd.XXXXXX") || exit 1
trap 'cd /; rm -rf "$d"' EXIT
trap 'exit 143' TERM
trap 'exit 129' HUP
cd "$d" || exit 1
"#;

/// `NAME` of an exported bash function's variable, `BASH_FUNC_NAME%%`.
fn function_name(name: &OsString) -> Option<&[u8]> {
    name.as_bytes()
        .strip_prefix(b"BASH_FUNC_")?
        .strip_suffix(b"%%")
}

/// This directory as a path relative to `$HOME`, or absolute if it is not under it.
fn here_from_home() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home.and_then(|home| here.strip_prefix(&home).ok().map(PathBuf::from)) {
        Some(relative) if relative.as_os_str().is_empty() => PathBuf::from("."),
        Some(relative) => relative,
        None => here,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(line: &[u8]) -> String {
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(std::ffi::OsStr::from_bytes(line))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn variables_and_directories_are_set_before_the_line() {
        let placement = RemotePlacement {
            workdir: Some(WorkDir::Dir(PathBuf::from("/"))),
            env: vec![("PMAP_T".into(), "it's $HOME".into())],
        };
        let line = placement.place(b"echo \"$PMAP_T\"; pwd");
        assert_eq!(sh(&line), "it's $HOME\n/\n");
    }

    #[test]
    fn a_fresh_directory_is_removed_even_after_an_exec() {
        let placement = RemotePlacement {
            workdir: Some(WorkDir::Fresh),
            env: Vec::new(),
        };
        let out = sh(&placement.place(b"exec pwd"));
        assert!(out.contains("/pmap-wd."), "{out}");
        assert!(!std::path::Path::new(out.trim()).exists(), "{out}");
    }

    #[test]
    fn a_function_makes_the_line_run_under_bash() {
        let placement = RemotePlacement {
            workdir: None,
            env: vec![("BASH_FUNC_hi%%".into(), "() {  echo hi \"$1\"\n}".into())],
        };
        assert!(placement.needs_bash());
        assert_eq!(sh(&placement.place(b"hi 'you'")), "hi you\n");
    }
}
