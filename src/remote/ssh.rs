//! Building `ssh` command lines: the connection-sharing master of a host, and each job's
//! client, whose remote side is a small POSIX sh wrapper that ends the job's process group
//! when the connection goes away.
//!
//! How a remote job is ended: the local `ssh` gets a pipe as stdin that pmap holds open for
//! as long as the job runs, and never writes to. Remotely, the wrapper starts the command in
//! the background as the leader of its own session (`setsid`, stdin on /dev/null), and
//! reads its own stdin. When that hits end-of-file — pmap closed the pipe, or the local ssh
//! or pmap itself died and the channel closed — it sends SIGTERM to the command's group,
//! then SIGKILL after the kill grace. Otherwise it exits with the command's status.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::remote::hosts::Target;
// Always single quotes: nothing in a value is special to the remote shell.
use crate::template::single_quote_into as quote_into;

/// The remote wrapper, run by `/bin/sh -c` with `$1`..`$5` = host, seq, slot, kill grace in
/// seconds, and the job's shell line.
pub(crate) const WRAPPER: &str = r#"PMAP_HOST=$1 PMAP_SEQ=$2 PMAP_SLOT=$3; export PMAP_HOST PMAP_SEQ PMAP_SLOT
exec 3<&0
if command -v setsid >/dev/null 2>&1; then setsid /bin/sh -c "$5" </dev/null 3<&- &
else /bin/sh -c "$5" </dev/null 3<&- &
fi
p=$!
{ while read -r _; do :; done; trap '' TERM
  kill -TERM -$p 2>/dev/null || kill -TERM $p 2>/dev/null
  sleep "$4" </dev/null
  kill -KILL -$p 2>/dev/null || kill -KILL $p 2>/dev/null; } <&3 >/dev/null 2>&1 3<&- &
w=$!
exec 3<&-
wait $p; s=$?
kill $w 2>/dev/null
exit $s"#;

/// The wrapper for a `--pipe` job: the same, but its stdin first carries the block, after a
/// line with the block's length in bytes. `head -c` hands exactly that many bytes to the
/// command through a fifo (removed once they are through); the rest of stdin is the
/// job's lifeline, as above.
pub(crate) const BLOCK_WRAPPER: &str = r#"PMAP_HOST=$1 PMAP_SEQ=$2 PMAP_SLOT=$3; export PMAP_HOST PMAP_SEQ PMAP_SLOT
IFS= read -r n || exit 255
d=$(mktemp -d "${TMPDIR:-/tmp}/pmap-block.XXXXXX") || exit 255
mkfifo "$d/block" || { rmdir "$d"; exit 255; }
exec 3<&0
if command -v setsid >/dev/null 2>&1; then setsid /bin/sh -c "$5" <"$d/block" 3<&- &
else /bin/sh -c "$5" <"$d/block" 3<&- &
fi
p=$!
{ head -c "$n" >"$d/block"; rm -rf "$d"
  while read -r _; do :; done; trap '' TERM
  kill -TERM -$p 2>/dev/null || kill -TERM $p 2>/dev/null
  sleep "$4" </dev/null
  kill -KILL -$p 2>/dev/null || kill -KILL $p 2>/dev/null; } <&3 >/dev/null 2>&1 3<&- &
w=$!
exec 3<&-
wait $p; s=$?
kill $w 2>/dev/null
rm -rf "$d"
exit $s"#;

/// What a job needs to know about where it runs.
pub struct JobPlace<'a> {
    /// The host's name as given.
    pub host: &'a str,
    pub seq: u64,
    pub slot: usize,
    pub grace: Duration,
    /// `--pipe`: its stdin brings a block first ([`BLOCK_WRAPPER`]).
    pub reads_block: bool,
}

/// The words of `--ssh-command` / `PMAP_SSH`, then `-T` (no terminal), the sharing options,
/// and the port, up to (not including) the destination.
pub fn base_command(ssh: &[OsString], control_path: Option<&Path>, port: Option<u16>) -> Command {
    let mut c = Command::new(&ssh[0]);
    c.args(&ssh[1..]).arg("-T");
    if let Some(path) = control_path {
        c.arg("-o").arg("ControlMaster=no").arg("-S").arg(path);
    }
    if let Some(port) = port {
        c.arg("-p").arg(port.to_string());
    }
    c
}

/// The master of a shared connection: it authenticates, listens on `control_path`, and runs
/// a remote `cat` that reads the pipe pmap gives it as stdin, so that the master ends (once
/// its clients are done) when pmap goes away, however it goes.
pub fn master_command(ssh: &[OsString], control_path: &Path, target: &Target) -> Option<Command> {
    let Target::Ssh { destination, port } = target else {
        return None;
    };
    let mut c = Command::new(&ssh[0]);
    c.args(&ssh[1..])
        .arg("-T")
        .args(["-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-S"])
        .arg(control_path);
    if let Some(port) = port {
        c.arg("-p").arg(port.to_string());
    }
    c.arg(destination).arg("exec cat >/dev/null");
    Some(c)
}

/// A connection check without sharing: `ssh HOST true`.
pub fn probe_command(ssh: &[OsString], target: &Target) -> Option<Command> {
    let Target::Ssh { destination, port } = target else {
        return None;
    };
    let mut c = base_command(ssh, None, *port);
    c.arg(destination).arg("true");
    Some(c)
}

/// The one string ssh sends to the remote shell for a job whose command is `line` (a POSIX
/// shell line, its substituted values already quoted).
pub fn remote_line(line: &[u8], place: &JobPlace<'_>) -> OsString {
    let mut out = b"exec /bin/sh -c ".to_vec();
    let wrapper = if place.reads_block {
        BLOCK_WRAPPER
    } else {
        WRAPPER
    };
    quote_into(wrapper.as_bytes(), &mut out);
    out.extend_from_slice(b" pmap-job ");
    for arg in [
        place.host.as_bytes(),
        place.seq.to_string().as_bytes(),
        place.slot.to_string().as_bytes(),
        format!("{:.3}", place.grace.as_secs_f64()).as_bytes(),
        line,
    ] {
        quote_into(arg, &mut out);
        out.push(b' ');
    }
    out.pop();
    OsString::from_vec(out)
}

/// A directly executed command (argv) as a shell line that runs exactly those words.
pub fn exec_line(argv: &[OsString]) -> Vec<u8> {
    let mut out = b"exec ".to_vec();
    out.extend_from_slice(&words_line(argv));
    out
}

/// The words of `argv`, each quoted, as a shell line: a call of its first word, which may
/// be a shell function.
pub fn words_line(argv: &[OsString]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, word) in argv.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        quote_into(word.as_bytes(), &mut out);
    }
    out
}

/// ssh's last non-empty line of complaint, for a one-line message.
pub fn reason(stderr: &[u8], status: Option<i32>) -> String {
    let text = String::from_utf8_lossy(stderr);
    match text.lines().map(str::trim).rev().find(|l| !l.is_empty()) {
        Some(line) => line.to_string(),
        None => match status {
            Some(code) => format!("ssh exited with status {code}"),
            None => "ssh was killed".to_string(),
        },
    }
}

/// For messages.
pub fn display(s: &OsStr) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remote_line_runs_under_sh_with_everything_quoted() {
        let place = JobPlace {
            host: "alpha",
            seq: 7,
            slot: 2,
            grace: Duration::from_millis(1500),
            reads_block: false,
        };
        let line = remote_line(b"echo 'it'\\''s'", &place);
        let line = line.to_str().unwrap();
        assert!(line.starts_with("exec /bin/sh -c 'PMAP_HOST=$1 "), "{line}");
        assert!(
            line.ends_with(
                " pmap-job 'alpha' '7' '2' '1.500' 'echo '\\''it'\\''\\'\\'''\\''s'\\'''"
            ),
            "{line}"
        );
        // The wrappers themselves are valid sh scripts.
        for wrapper in [WRAPPER, BLOCK_WRAPPER] {
            let status = std::process::Command::new("/bin/sh")
                .args(["-n", "-c", wrapper])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    #[test]
    fn an_argv_becomes_an_exec_of_quoted_words() {
        let argv: Vec<OsString> = ["echo", "a b", "$(x)", "it's"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(exec_line(&argv), b"exec 'echo' 'a b' '$(x)' 'it'\\''s'");
    }
}
