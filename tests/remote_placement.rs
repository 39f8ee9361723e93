//! `--env` and `--wd` on remote hosts, against a real OpenSSH server on 127.0.0.1 reached
//! as `alpha` (see `common/sshd.rs`): the remote login has none of pmap's environment, so
//! what arrives came through `--env`.

mod common;
// The fixture has helpers only tests/remote_ssh.rs uses.
#[allow(dead_code)]
#[path = "common/sshd.rs"]
mod sshd;

use std::path::Path;

use common::{Out, fresh_work_dirs, pmap, run_cmd};
use sshd::{Sshd, sshd_or_skip};

/// Runs pmap against `sshd` in `dir`, with `env` set, and `args` after `--ssh-command`.
fn run_remote_in(sshd: &Sshd, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Out {
    let mut cmd = pmap();
    cmd.current_dir(dir)
        .env_remove("PMAP_SSH")
        .envs(env.iter().copied())
        .arg("--ssh-command")
        .arg(sshd.ssh_command())
        .args(args);
    run_cmd(&mut cmd, "")
}

/// The fresh working directories `--wd ...` made in the remote /tmp and left behind.
fn remote_work_dirs() -> Vec<std::path::PathBuf> {
    std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("/pmap-wd."))
        .collect()
}

#[test]
fn env_sends_variables_and_bash_functions_to_remote_jobs() {
    let Some(sshd) = sshd_or_skip() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let var = [("PMAP_T_GREETING", "it's $HOME")];
    // Without --env the remote login does not have it.
    let script = "echo \"[$PMAP_T_GREETING]\" {}";
    run_remote_in(
        &sshd,
        tmp.path(),
        &var,
        &["-S", "alpha", script, ":::", "x"],
    )
    .ok("[] x\n");
    run_remote_in(
        &sshd,
        tmp.path(),
        &var,
        &[
            "-S",
            "alpha",
            "--env",
            "PMAP_T_GREETING",
            script,
            ":::",
            "x",
        ],
    )
    .ok("[it's $HOME] x\n");
    // An exported function, called as the command.
    let function = [("BASH_FUNC_pmap_t_doit%%", "() {  echo \"doit [$1]\"\n}")];
    run_remote_in(
        &sshd,
        tmp.path(),
        &function,
        &[
            "-S",
            "alpha",
            "-k",
            "--env",
            "pmap_t_doit",
            "pmap_t_doit",
            ":::",
            "a b",
            "c",
        ],
    )
    .ok("doit [a b]\ndoit [c]\n");
    let out = run_remote_in(
        &sshd,
        tmp.path(),
        &[],
        &["-S", "alpha", "--env", "PMAP_T_NONE", "echo"],
    );
    assert_eq!(
        out.usage_error(),
        "pmap: --env 'PMAP_T_NONE': no such variable or exported function (export it first)"
    );
    let out = run_cmd(
        pmap()
            .env("PMAP_T_X", "1")
            .args(["--env", "PMAP_T_X", "echo", ":::", "x"]),
        "",
    );
    assert_eq!(
        out.usage_error(),
        "pmap: --env sends variables to remote hosts: it needs -S or --sshlogin-file"
    );
}

#[test]
fn wd_places_remote_jobs_and_dots_make_a_directory_removed_after() {
    let Some(sshd) = sshd_or_skip() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let here = tmp.path().canonicalize().unwrap();
    run_remote_in(
        &sshd,
        &here,
        &[],
        &["-S", "alpha", "--wd", "/", "pwd; : {}", ":::", "x"],
    )
    .ok("/\n");
    // `.` is this directory (here not under $HOME, so its absolute path).
    run_remote_in(
        &sshd,
        &here,
        &[],
        &["-S", "alpha", "--wd", ".", "pwd; : {}", ":::", "x"],
    )
    .ok(format!("{}\n", here.display()));
    let before = remote_work_dirs();
    let out = run_remote_in(
        &sshd,
        &here,
        &[],
        &[
            "-S",
            "alpha",
            "-k",
            "--wd",
            "...",
            "touch f; ls; pwd",
            ":::",
            "1",
            "2",
        ],
    );
    for dir in fresh_work_dirs(&out) {
        assert!(dir.starts_with("/tmp/pmap-wd."), "{out:?}");
    }
    assert_eq!(
        remote_work_dirs(),
        before,
        "a remote working directory was left"
    );
}
