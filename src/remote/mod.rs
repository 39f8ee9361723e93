//! Remote execution over OpenSSH (SPEC §9): the host list, one shared connection per host
//! (a few per host with many slots), and which slot runs on which host.
//!
//! At startup every ssh host is connected in parallel: with sharing (the default) that
//! starts its connection masters, without it a plain `ssh HOST true` is the check. A host
//! that cannot be reached is reported once and its slots are dropped; the others' slots are
//! numbered 1.. round-robin across hosts (`alpha, beta, alpha, beta, …`), so that even a few
//! jobs spread out. The masters live in a private directory, and end with the run.

pub mod hosts;
pub mod placed;
pub mod ssh;

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::killpg;
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;

use crate::exec::escalate::Escalation;
use crate::lock;
use hosts::{HostSpec, Target};

/// Slots one shared connection serves at most: OpenSSH's sshd allows 10 sessions per
/// connection by default (`MaxSessions`), so a host with more slots gets more masters.
const SESSIONS_PER_MASTER: usize = 8;

/// `-S`, `--sshlogin-file`, `--ssh-command` and sharing, validated.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// The hosts of `-S`; [`crate::setup`] adds those of the [`Self::host_files`].
    pub hosts: Vec<HostSpec>,
    /// `--sshlogin-file`: files of more hosts, read by [`crate::setup`].
    pub host_files: Vec<PathBuf>,
    /// `--ssh-command` / `PMAP_SSH` split into words (default `ssh`).
    pub ssh: Vec<OsString>,
    /// Share one connection per host (and per [`SESSIONS_PER_MASTER`] slots).
    pub share: bool,
}

/// A reachable host.
#[derive(Debug)]
pub struct Host {
    /// As given in the host list (`:` for this machine).
    pub name: Arc<str>,
    pub target: Target,
    /// Found unreachable during the run: its slots take no more jobs.
    lost: AtomicBool,
}

/// Where one slot runs.
#[derive(Debug)]
struct Place {
    host: usize,
    control_path: Option<PathBuf>,
}

/// A connection master: the ssh process, and the pipe whose end tells it pmap is gone.
struct Master {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// The hosts of a run, connected.
pub struct Remote {
    ssh: Vec<OsString>,
    hosts: Vec<Host>,
    places: Vec<Place>,
    masters: Mutex<Vec<Master>>,
    dir: Mutex<Option<tempfile::TempDir>>,
}

impl Remote {
    /// Connects every ssh host (in parallel), reports the unreachable ones on stderr, and
    /// plans the slots of the others. A host without `N/` gets `default_slots` (`-j`).
    /// Gives up, ending what it started, once `interrupted` is set (by SIGINT or SIGTERM).
    pub fn connect(
        config: &RemoteConfig,
        default_slots: usize,
        interrupted: &AtomicUsize,
    ) -> Result<Remote> {
        let shares = config.share
            && config
                .hosts
                .iter()
                .any(|h| matches!(h.target, Target::Ssh { .. }));
        let dir = if shares { Some(control_dir()?) } else { None };
        let dir_path = dir.as_ref().map(|d| d.path());
        let slots_of = |h: &HostSpec| h.slots.unwrap_or(default_slots).max(1);
        let outcomes = connect_all(config, &slots_of, dir_path, interrupted);
        if interrupted.load(Ordering::SeqCst) != 0 {
            end_masters(outcomes.into_iter().flatten().flatten().collect());
            bail!("interrupted");
        }
        let mut hosts = Vec::new();
        let mut masters = Vec::new();
        let mut slots = Vec::new();
        for (i, (spec, outcome)) in config.hosts.iter().zip(outcomes).enumerate() {
            match outcome {
                Ok(m) => {
                    masters.extend(m);
                    let paths = slot_paths(spec, i, slots_of(spec), dir_path);
                    slots.push((hosts.len(), paths));
                    hosts.push(Host {
                        name: Arc::from(spec.name.as_str()),
                        target: spec.target.clone(),
                        lost: AtomicBool::new(false),
                    });
                }
                Err(why) => eprintln!(
                    "pmap: host '{}' cannot be reached: {why}; its jobs go to the other hosts",
                    spec.name
                ),
            }
        }
        let remote = Remote {
            ssh: config.ssh.clone(),
            hosts,
            places: round_robin(slots),
            masters: Mutex::new(masters),
            dir: Mutex::new(dir),
        };
        if remote.hosts.is_empty() {
            // Dropping `remote` removes the control directory.
            bail!("no host in --sshlogin can be reached");
        }
        Ok(remote)
    }

    /// The number of slots on reachable hosts.
    pub fn slots(&self) -> usize {
        self.places.len()
    }

    /// The host `slot` (1-based) runs on.
    pub fn host(&self, slot: usize) -> &Host {
        &self.hosts[self.places[slot - 1].host]
    }

    /// The index of the host `slot` runs on.
    pub fn host_index(&self, slot: usize) -> usize {
        self.places[slot - 1].host
    }

    /// How many hosts are still reachable.
    pub fn hosts_left(&self) -> usize {
        self.hosts
            .iter()
            .filter(|h| !h.lost.load(Ordering::SeqCst))
            .count()
    }

    /// Whether `slot` should take a job that failed on the hosts `failed_on`: yes if its host
    /// is not among them, or if every host left is.
    pub fn should_take(&self, slot: usize, failed_on: &[usize]) -> bool {
        !failed_on.contains(&self.host_index(slot))
            || self
                .hosts
                .iter()
                .enumerate()
                .filter(|(_, h)| !h.lost.load(Ordering::SeqCst))
                .all(|(i, _)| failed_on.contains(&i))
    }

    /// The `ssh` process for one job in `slot` whose command is the shell `line`, or `None`
    /// if the slot is on this machine.
    pub fn job_command(
        &self,
        slot: usize,
        line: &[u8],
        place: &ssh::JobPlace<'_>,
    ) -> Option<Command> {
        let entry = &self.places[slot - 1];
        let Target::Ssh { destination, port } = &self.hosts[entry.host].target else {
            return None;
        };
        let mut c = ssh::base_command(&self.ssh, entry.control_path.as_deref(), *port);
        c.arg(destination).arg(ssh::remote_line(line, place));
        Some(c)
    }

    /// Whether `slot` runs on this machine (`:` in the host list).
    pub fn is_local(&self, slot: usize) -> bool {
        self.host(slot).target == Target::Local
    }

    /// Whether `slot`'s host has been found unreachable during the run.
    pub fn is_lost(&self, slot: usize) -> bool {
        self.host(slot).lost.load(Ordering::SeqCst)
    }

    /// A job in `slot` ended with ssh's 255 (which may also be the command's own status):
    /// checks with a fresh `ssh HOST true` whether the host can still be reached. If it
    /// cannot, the host is marked lost and — the first time only — the message to report
    /// is returned; `Some(None)` means it was already reported. `None`: the host is fine.
    pub fn check_after_255(&self, slot: usize) -> Option<Option<String>> {
        let host = self.host(slot);
        if host.lost.load(Ordering::SeqCst) {
            return Some(None);
        }
        let mut probe = ssh::probe_command(&self.ssh, &host.target)?;
        let why = match run_probe(&mut probe) {
            Ok((Some(0), _)) => return None,
            Ok((code, stderr)) => ssh::reason(&stderr, code),
            Err(why) => why,
        };
        let first = !host.lost.swap(true, Ordering::SeqCst);
        Some(first.then(|| {
            format!(
                "host '{}' cannot be reached: {why}; its jobs go to the other hosts",
                host.name
            )
        }))
    }

    /// Whether any host is left to run jobs on.
    pub fn any_host_left(&self) -> bool {
        self.hosts.iter().any(|h| !h.lost.load(Ordering::SeqCst))
    }

    /// The ssh program, for messages.
    pub fn ssh_program(&self) -> &OsString {
        &self.ssh[0]
    }

    /// Ends the connection masters and removes their directory. Idempotent; also done on
    /// drop.
    pub fn shutdown(&self) {
        let masters = std::mem::take(&mut *lock(&self.masters));
        end_masters(masters);
        lock(&self.dir).take();
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A private directory for the control sockets. A socket path must stay short (about 100
/// bytes), so a long `$TMPDIR` gives way to /tmp.
fn control_dir() -> Result<tempfile::TempDir> {
    let base = tempfile::env::temp_dir();
    let base = if base.as_os_str().len() > 60 {
        PathBuf::from("/tmp")
    } else {
        base
    };
    tempfile::Builder::new()
        .prefix("pmap-ssh-")
        .tempdir_in(&base)
        .with_context(|| {
            format!(
                "cannot create a directory for ssh control sockets in '{}'",
                base.display()
            )
        })
}

fn control_path(dir: &Path, host: usize, group: usize) -> PathBuf {
    dir.join(format!("{host}-{group}"))
}

/// Checks every host at once, each on its own thread, so that one slow host does not hold
/// up the others: the masters started for each, or ssh's reason why it cannot be reached.
fn connect_all(
    config: &RemoteConfig,
    slots_of: &(dyn Fn(&HostSpec) -> usize + Sync),
    dir: Option<&Path>,
    interrupted: &AtomicUsize,
) -> Vec<Result<Vec<Master>, String>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = config
            .hosts
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                scope.spawn(move || {
                    connect_host(&config.ssh, spec, i, slots_of(spec), dir, interrupted)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the connection check failed".into()))
            })
            .collect()
    })
}

/// The control socket of each of a host's `slots`: every [`SESSIONS_PER_MASTER`] slots share
/// one master. `None` for this machine, and for every slot without sharing.
fn slot_paths(
    spec: &HostSpec,
    index: usize,
    slots: usize,
    dir: Option<&Path>,
) -> Vec<Option<PathBuf>> {
    (0..slots)
        .map(|k| {
            dir.filter(|_| spec.target != Target::Local)
                .map(|d| control_path(d, index, k / SESSIONS_PER_MASTER))
        })
        .collect()
}

/// Numbers the slots round-robin across hosts — the first slot of every host, then the
/// second, … — so that even a few jobs spread out. Takes each host's index and its slots'
/// control paths.
fn round_robin(hosts: Vec<(usize, Vec<Option<PathBuf>>)>) -> Vec<Place> {
    let mut iters: Vec<_> = hosts
        .into_iter()
        .map(|(host, paths)| (host, paths.into_iter()))
        .collect();
    let mut places = Vec::new();
    loop {
        let before = places.len();
        for (host, paths) in &mut iters {
            if let Some(control_path) = paths.next() {
                places.push(Place {
                    host: *host,
                    control_path,
                });
            }
        }
        if places.len() == before {
            return places;
        }
    }
}

/// Checks one host: starts its masters (with sharing) or runs `ssh HOST true`. The error
/// is ssh's reason.
fn connect_host(
    ssh: &[OsString],
    spec: &HostSpec,
    index: usize,
    slots: usize,
    dir: Option<&Path>,
    interrupted: &AtomicUsize,
) -> Result<Vec<Master>, String> {
    if spec.target == Target::Local {
        return Ok(Vec::new());
    }
    let Some(dir) = dir else {
        let Some(mut probe) = ssh::probe_command(ssh, &spec.target) else {
            return Ok(Vec::new());
        };
        let (status, stderr) = run_probe(&mut probe)?;
        return match status {
            Some(0) => Ok(Vec::new()),
            code => Err(ssh::reason(&stderr, code)),
        };
    };
    let groups = slots.div_ceil(SESSIONS_PER_MASTER);
    let mut started = Vec::new();
    let mut failure = None;
    for group in 0..groups {
        let path = control_path(dir, index, group);
        match start_master(ssh, &spec.target, &path) {
            Ok(m) => started.push((m, path)),
            Err(why) => {
                failure = Some(why);
                break;
            }
        }
    }
    let mut ready = Vec::new();
    for ((master, stderr), path) in started {
        if failure.is_some() {
            ready.push(master);
            continue;
        }
        match wait_ready(master, stderr, &path, interrupted) {
            Ok(m) => ready.push(m),
            Err(why) => failure = Some(why),
        }
    }
    match failure {
        None => Ok(ready),
        Some(why) => {
            end_masters(ready);
            Err(why)
        }
    }
}

fn stderr_file() -> Result<File, String> {
    tempfile::tempfile().map_err(|e| format!("cannot create a temporary file: {e}"))
}

fn read_back(mut file: File) -> Vec<u8> {
    let mut text = Vec::new();
    let _ = file.rewind();
    let _ = file.read_to_end(&mut text);
    text
}

fn run_probe(probe: &mut Command) -> Result<(Option<i32>, Vec<u8>), String> {
    let file = stderr_file()?;
    let err = file
        .try_clone()
        .map_err(|e| format!("cannot create a temporary file: {e}"))?;
    let status = probe
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .process_group(0)
        .status()
        .map_err(|e| format!("cannot run '{}': {e}", ssh::display(probe.get_program())))?;
    Ok((status.code(), read_back(file)))
}

fn start_master(ssh: &[OsString], target: &Target, path: &Path) -> Result<(Master, File), String> {
    let Some(mut command) = ssh::master_command(ssh, path, target) else {
        return Err("not an ssh host".into());
    };
    let file = stderr_file()?;
    let err = file
        .try_clone()
        .map_err(|e| format!("cannot create a temporary file: {e}"))?;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run '{}': {e}", ssh::display(&ssh[0])))?;
    let stdin = child.stdin.take();
    Ok((Master { child, stdin }, file))
}

/// Waits until the master listens on its socket (the host is reachable) or exits (it is
/// not; ssh's last line says why).
fn wait_ready(
    mut master: Master,
    stderr: File,
    path: &Path,
    interrupted: &AtomicUsize,
) -> Result<Master, String> {
    loop {
        if path.exists() {
            return Ok(master);
        }
        if interrupted.load(Ordering::SeqCst) != 0 {
            end_masters(vec![master]);
            return Err("interrupted".into());
        }
        match master.child.try_wait() {
            Ok(Some(status)) => return Err(ssh::reason(&read_back(stderr), status.code())),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("cannot wait for ssh: {e}")),
        }
    }
}

/// Ends each master: closes its stdin (its remote `cat` ends, and with it the master) and
/// sends SIGTERM to its process group (which also holds a `ProxyCommand`, if any); one
/// that is still there after [`MASTER_GRACE`] gets SIGKILL (the [`Escalation`] ladder).
/// Reaps them.
fn end_masters(mut masters: Vec<Master>) {
    for m in &mut masters {
        m.stdin.take();
    }
    let signal = |masters: &[Master], signal| {
        for m in masters {
            let _ = killpg(Pid::from_raw(m.child.id() as i32), signal);
        }
    };
    let mut ladder = Escalation::now(MASTER_GRACE);
    loop {
        if let Some(sig) = ladder.due(Instant::now()) {
            signal(&masters, sig);
        }
        masters.retain_mut(|m| matches!(m.child.try_wait(), Ok(None)));
        if masters.is_empty() {
            return;
        }
        if ladder.killed() {
            for m in &mut masters {
                let _ = m.child.wait();
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long a master gets to end by itself at the end of a run. (OpenSSH masters now and
/// then stay after SIGTERM while a client session is being torn down.)
const MASTER_GRACE: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_alternate_between_hosts() {
        let paths = |n| vec![None; n];
        let places = round_robin(vec![(0, paths(3)), (1, paths(1)), (2, paths(2))]);
        let hosts: Vec<usize> = places.iter().map(|p| p.host).collect();
        assert_eq!(hosts, [0, 1, 2, 0, 2, 0]);
    }

    #[test]
    fn every_eight_slots_of_a_host_share_a_master() {
        let ssh = HostSpec {
            name: "a".into(),
            target: Target::Ssh {
                destination: "a".into(),
                port: None,
            },
            slots: None,
        };
        let dir = Path::new("/d");
        let paths = slot_paths(&ssh, 1, 9, Some(dir));
        assert_eq!(paths[0], Some(dir.join("1-0")));
        assert_eq!(paths[7], Some(dir.join("1-0")));
        assert_eq!(paths[8], Some(dir.join("1-1")));
        assert_eq!(slot_paths(&ssh, 1, 2, None), [None, None]);
        let local = HostSpec {
            target: Target::Local,
            ..ssh
        };
        assert_eq!(slot_paths(&local, 0, 2, Some(dir)), [None, None]);
    }
}
