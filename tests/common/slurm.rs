//! A throwaway Slurm cluster on 127.0.0.1 for the `--slurm` tests: in a temp dir, a
//! `munged -F` with its own key and socket, `slurmctld -D` and two `slurmd -D` (nodes `n1`
//! and `n2`, two CPUs each, one partition `test`) on free ports, all as the current user
//! (root: Slurm's daemons want it). Clients reach it through [`Cluster::env`]
//! (`SLURM_CONF`, and no inherited `SLURM_*`). On drop every job is cancelled and every
//! daemon stopped by its pid, so none outlives the test, even one that panics.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The programs a test cluster needs, with the Debian packages that provide them.
pub const PROGRAMS: [(&str, &str); 6] = [
    ("/usr/sbin/munged", "munge"),
    ("/usr/sbin/slurmctld", "slurmctld"),
    ("/usr/sbin/slurmd", "slurmd"),
    ("srun", "slurm-client"),
    ("squeue", "slurm-client"),
    ("salloc", "slurm-client"),
];

pub struct Cluster {
    dir: tempfile::TempDir,
    /// munged, slurmctld, slurmd n1, slurmd n2: stopped in the reverse order.
    daemons: Vec<Child>,
}

/// A port nothing listens on (bound, read, dropped).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

/// The cluster's `slurm.conf` (`ctld`: the controller's port; `nodes`: each node's port).
pub fn config_text(dir: &Path, ctld: u16, nodes: [u16; 2]) -> String {
    let d = dir.display();
    format!(
        "ClusterName=pmaptest\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort={ctld}\n\
         SlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\nAuthInfo=socket={d}/munge/sock\n\
         CredType=cred/munge\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
         SlurmdParameters=config_overrides\nReturnToService=2\nMailProg=/bin/true\n\
         StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool-%n\n\
         SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd-%n.pid\n\
         SlurmctldLogFile={d}/slurmctld.log\nSlurmdLogFile={d}/slurmd-%n.log\n\
         SchedulerType=sched/builtin\nSelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\n\
         JobCompType=jobcomp/none\nAccountingStorageType=accounting_storage/none\n\
         KillWait=2\nMpiDefault=none\n\
         NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port={} CPUs=2 State=UNKNOWN\n\
         NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port={} CPUs=2 State=UNKNOWN\n\
         PartitionName=test Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP\n",
        nodes[0], nodes[1]
    )
}

impl Cluster {
    /// Starts the daemons and waits (up to 20 s) until both nodes are idle.
    pub fn start() -> Result<Cluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("pmap-slurm-")
            .tempdir_in("/tmp")
            .map_err(|e| format!("cannot make a temp dir: {e}"))?;
        let d = dir.path();
        for sub in ["munge", "state", "spool-n1", "spool-n2"] {
            std::fs::create_dir_all(d.join(sub)).map_err(|e| format!("mkdir {sub}: {e}"))?;
        }
        // munged wants every directory of its socket's path open to all.
        set_mode(d, 0o755)?;
        set_mode(&d.join("munge"), 0o755)?;
        let key: Vec<u8> = (0..1024).map(|_| rand_byte()).collect();
        std::fs::write(d.join("munge/key"), key).map_err(|e| format!("munge key: {e}"))?;
        set_mode(&d.join("munge/key"), 0o600)?;
        let text = config_text(d, free_port(), [free_port(), free_port()]);
        std::fs::write(d.join("slurm.conf"), text).map_err(|e| format!("slurm.conf: {e}"))?;
        let mut cluster = Cluster {
            dir,
            daemons: Vec::new(),
        };
        cluster.spawn_daemons()?;
        cluster.wait_until_idle()?;
        Ok(cluster)
    }

    fn spawn_daemons(&mut self) -> Result<(), String> {
        let d = self.dir.path().to_path_buf();
        let path = |name: &str| d.join(name).into_os_string();
        let mut munged = Command::new("/usr/sbin/munged");
        munged
            .arg("-F")
            .arg("--socket")
            .arg(path("munge/sock"))
            .arg("--key-file")
            .arg(path("munge/key"))
            .arg("--pid-file")
            .arg(path("munge/pid"))
            .arg("--seed-file")
            .arg(path("munge/seed"))
            .arg("--log-file")
            .arg(path("munge/log"));
        self.spawn(munged)?;
        let socket = d.join("munge/sock");
        wait_for("munged's socket", Duration::from_secs(10), || {
            socket.exists()
        })?;
        let mut ctld = Command::new("/usr/sbin/slurmctld");
        ctld.args(["-D", "-i"]);
        self.spawn(ctld)?;
        for node in ["n1", "n2"] {
            let mut slurmd = Command::new("/usr/sbin/slurmd");
            slurmd.args(["-D", "-N", node]);
            self.spawn(slurmd)?;
        }
        Ok(())
    }

    fn spawn(&mut self, mut command: Command) -> Result<(), String> {
        let name = command.get_program().to_string_lossy().into_owned();
        self.env(&mut command);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        self.daemons.push(child);
        Ok(())
    }

    /// Waits until `sinfo` shows both nodes idle.
    fn wait_until_idle(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let states = self.output("sinfo", &["-h", "-N", "-o", "%N %t"]);
            if states.lines().filter(|l| l.ends_with(" idle")).count() == 2 {
                return Ok(());
            }
            for daemon in &mut self.daemons {
                if let Ok(Some(status)) = daemon.try_wait() {
                    return Err(format!("a daemon exited ({status}): {}", self.logs()));
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "nodes not idle in 20 s ({states}): {}",
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn logs(&self) -> String {
        ["slurmctld.log", "slurmd-n1.log", "munge/log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Points `command` at this cluster: `SLURM_CONF`, and no inherited `SLURM_*`.
    pub fn env<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SLURM_") {
                command.env_remove(name);
            }
        }
        command.env("SLURM_CONF", self.conf())
    }

    /// The cluster's `slurm.conf`.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// The temp dir the cluster lives in (tests may keep files there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The stdout of a Slurm client command run against this cluster ("" if it fails).
    pub fn output(&self, program: &str, args: &[&str]) -> String {
        let mut command = Command::new(program);
        self.env(&mut command).args(args).stdin(Stdio::null());
        command
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The jobs and steps in the queue, one line each (`squeue -h -s`, then `squeue -h`).
    pub fn queue(&self) -> String {
        let steps = self.output("squeue", &["-h", "-s", "-o", "%i %T"]);
        steps + &self.output("squeue", &["-h", "-o", "%i %T"])
    }

    /// Waits up to `within` until the queue is empty; returns what is left.
    pub fn wait_for_empty_queue(&self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let queue = self.queue();
            if queue.trim().is_empty() || Instant::now() > deadline {
                return queue;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.daemons.len() >= 2 {
            let _ = self.output("scancel", &["--full", "--user", &whoami()]);
            self.wait_for_empty_queue(Duration::from_secs(10));
        }
        while let Some(mut daemon) = self.daemons.pop() {
            let pid = daemon.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let stopped = wait_for("a daemon to stop", Duration::from_secs(5), || {
                matches!(daemon.try_wait(), Ok(Some(_)))
            });
            if stopped.is_err() {
                let _ = daemon.kill();
            }
            let _ = daemon.wait();
        }
    }
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "root".into())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// A byte of the munge key: the key must only differ from any other cluster's.
fn rand_byte() -> u8 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish() as u8
}

/// Polls `done` every 20 ms for up to `within`.
pub fn wait_for(
    what: &str,
    within: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Starts a cluster for a test. When a Slurm or munge program is missing, the test is
/// skipped (`None`, after printing why), except under CI, where that is a failure: CI
/// installs them. A cluster that is installed but will not start is always a failure.
pub fn cluster_or_skip() -> Option<Cluster> {
    for (program, package) in PROGRAMS {
        crate::common::program_or_skip(program, package)?;
    }
    match Cluster::start() {
        Ok(c) => Some(c),
        Err(why) => panic!("the test Slurm cluster could not be started: {why}"),
    }
}
