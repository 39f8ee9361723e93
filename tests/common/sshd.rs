//! A throwaway OpenSSH server on 127.0.0.1 for the remote-execution tests: fresh host and
//! client keys in a temp dir, `sshd -D -p PORT -f CONFIG` as the current user, and an ssh
//! config file that reaches it as `alpha` and `beta`, with `down` pointing at a closed
//! port, and `slow` never answering (its ProxyCommand is `sleep 30.61`). Killed on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

/// The programs a test sshd needs, with the apt packages that provide them.
const PROGRAMS: [(&str, &str); 3] = [
    (SSHD, "openssh-server"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
];

pub struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
}

/// A port nothing listens on (bound, read, dropped).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

/// Makes a fresh ed25519 key pair at `path` and `path.pub`.
fn keygen(path: &Path) -> Result<(), String> {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run ssh-keygen (apt-get install openssh-client): {e}"))?;
    if !status.success() {
        return Err(format!("ssh-keygen failed ({status})"));
    }
    Ok(())
}

/// The host key, and a client key that is the only authorized key, in `dir`.
fn write_keys(dir: &Path) -> Result<(), String> {
    keygen(&dir.join("host_key"))?;
    keygen(&dir.join("client_key"))?;
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))
        .map_err(|e| format!("cannot write authorized_keys: {e}"))?;
    Ok(())
}

/// The user the tests run as, who logs in to the test sshd.
fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            let out = Command::new("id").arg("-un").output().expect("run id -un");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
}

/// Writes `dir/sshd_config`: keys from `dir`, 127.0.0.1 only, `user` only.
fn write_sshd_config(dir: &Path, user: &str) {
    // `SetEnv SHLVL=1`: bash, as the login shell of a command run by sshd, reads
    // ~/.bashrc only at shell level 1; whatever that prints would show up as job output.
    std::fs::write(
        dir.join("sshd_config"),
        format!(
            "HostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             StrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nListenAddress 127.0.0.1\n\
             PermitRootLogin yes\nMaxStartups 100\nAllowUsers {user}\n\
             SetEnv SHLVL=1\n",
            d = dir.display()
        ),
    )
    .expect("write sshd_config");
}

/// Writes `dir/ssh_config`: `aliases` reach the server on `port`, `down` a closed port,
/// and `slow` never answers.
fn write_ssh_config(dir: &Path, user: &str, aliases: &str, port: u16) {
    let client = |port: u16| {
        format!(
            "  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {d}/client_key\n\
             \x20 StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n\
             \x20 BatchMode yes\n  ConnectTimeout 5\n",
            d = dir.display()
        )
    };
    std::fs::write(
        dir.join("ssh_config"),
        format!(
            "Host {aliases}\n{}Host down\n{}Host slow\n  ProxyCommand sleep 30.61\n{}",
            client(port),
            client(free_port()),
            client(port)
        ),
    )
    .expect("write ssh_config");
}

/// Starts `sshd -D` on `port` with the config in `dir`, logging to `dir/sshd.log`.
fn spawn_sshd(dir: &Path, port: u16) -> Result<Child, String> {
    // As root, sshd insists on its privilege-separation directory.
    if running_as_root() {
        let _ = std::fs::create_dir_all("/run/sshd");
    }
    Command::new(SSHD)
        .arg("-D")
        .arg("-p")
        .arg(port.to_string())
        .arg("-f")
        .arg(dir.join("sshd_config"))
        .arg("-E")
        .arg(dir.join("sshd.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {SSHD} (apt-get install openssh-server): {e}"))
}

impl Sshd {
    /// Starts the server, reached as `alpha` and `beta`, or says why it cannot.
    pub fn start() -> Result<Sshd, String> {
        Self::start_as("alpha beta")
    }

    /// Starts a server reached under the host aliases `aliases` (space-separated), and
    /// logs in once as the first of them.
    pub fn start_as(aliases: &str) -> Result<Sshd, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
        let user = current_user();
        let port = free_port();
        write_keys(dir.path())?;
        write_sshd_config(dir.path(), &user);
        write_ssh_config(dir.path(), &user, aliases, port);
        let child = spawn_sshd(dir.path(), port)?;
        let mut sshd = Sshd { dir, child };
        sshd.wait_until_listening(port)?;
        sshd.log_in_as(aliases.split(' ').next().unwrap_or_default())?;
        Ok(sshd)
    }

    /// Waits (up to 10 s) until the server accepts connections on `port`.
    fn wait_until_listening(&mut self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default();
                return Err(format!("sshd exited ({status}): {}", log.trim()));
            }
            if Instant::now() > deadline {
                return Err("sshd did not accept connections within 10s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// One real login, which proves the keys and config work before any test relies on them.
    fn log_in_as(&self, host: &str) -> Result<(), String> {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(self.config())
            .args([host, "true"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run ssh (apt-get install openssh-client): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot log in to the test sshd: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    /// The client config file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// The temp dir holding the keys and configs.
    pub fn dir_path(&self) -> &Path {
        self.dir.path()
    }

    /// The `--ssh-command` that reaches this server.
    pub fn ssh_command(&self) -> String {
        format!("ssh -F {}", self.config().display())
    }
}

impl Sshd {
    /// Kills the server and every connection it serves, as if its machine went away.
    pub fn kill_all(&mut self) {
        let listener = self.child.id();
        // Each connection is served by an sshd process of its own, a child of the listener
        // (or of its child); find those before they lose their parent, and end them by pid.
        let table: Vec<(u32, u32)> = crate::common::ps(&["-eo", "pid=,ppid="])
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace().map(|x| x.parse().ok());
                Some((f.next()??, f.next()??))
            })
            .collect();
        let mut doomed = vec![listener];
        let mut i = 0;
        while i < doomed.len() {
            let parent = doomed[i];
            doomed.extend(
                table
                    .iter()
                    .filter(|(_, pp)| *pp == parent)
                    .map(|(p, _)| *p),
            );
            i += 1;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in &doomed[1..] {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server for a test. When sshd, ssh or ssh-keygen is missing, the test is
/// skipped (`None`, after printing why), except under CI, where that is a failure: CI
/// installs them. A server that is installed but will not start is always a failure.
pub fn sshd_or_skip() -> Option<Sshd> {
    for (program, package) in PROGRAMS {
        crate::common::program_or_skip(program, package)?;
    }
    match Sshd::start() {
        Ok(s) => Some(s),
        Err(why) => panic!("the test sshd could not be started: {why}"),
    }
}

/// Whether the tests run as root (`id -u` is 0).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
