//! The host list of `-S/--sshlogin` and `--sshlogin-file` (SPEC §9): `N/host` gives N slots,
//! `:` is this machine, `user@host` and `host:port` are accepted.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Where a host's jobs run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `:`: this machine, without ssh.
    Local,
    /// Through ssh: the destination (`host` or `user@host`) and a port, if given.
    Ssh {
        destination: String,
        port: Option<u16>,
    },
}

/// One entry of the host list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// The entry as given, without its `N/` (what the joblog, `--json`, `{host}` and
    /// `PMAP_HOST` show).
    pub name: String,
    pub target: Target,
    /// `N/`: the host's slots; without it, the host gets `-j` slots.
    pub slots: Option<usize>,
}

/// Parses one `-S` value: comma-separated entries.
pub fn parse_list(list: &str) -> Result<Vec<HostSpec>> {
    if list.trim().is_empty() {
        bail!("-S/--sshlogin is empty: give at least one host");
    }
    list.split(',').map(parse_entry).collect()
}

/// Reads `--sshlogin-file`: one entry per line (commas allowed), blank lines and `#`
/// comments skipped.
pub fn read_file(path: &Path) -> Result<Vec<HostSpec>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --sshlogin-file '{}'", path.display()))?;
    let mut hosts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let parsed = parse_list(line)
            .with_context(|| format!("in --sshlogin-file '{}', line {}", path.display(), i + 1))?;
        hosts.extend(parsed);
    }
    if hosts.is_empty() {
        bail!(
            "--sshlogin-file '{}' names no host (one host per line, '#' starts a comment)",
            path.display()
        );
    }
    Ok(hosts)
}

/// Refuses a host given twice: `N/` is how a host gets more slots.
pub fn check_unique(hosts: &[HostSpec]) -> Result<()> {
    let mut seen = HashSet::new();
    for host in hosts {
        if !seen.insert(host.name.as_str()) {
            bail!(
                "host '{}' is given twice in --sshlogin; give it once, with N/ for more slots",
                host.name
            );
        }
    }
    Ok(())
}

/// Parses `[N/]host`, `[N/]user@host`, `[N/]host:port` or `[N/]:`.
pub fn parse_entry(entry: &str) -> Result<HostSpec> {
    let entry = entry.trim();
    let bad = |why: &str| anyhow::anyhow!("invalid host '{entry}' in --sshlogin: {why}");
    let (slots, host) = match entry.split_once('/') {
        Some((n, host)) => {
            let n: usize = n
                .parse()
                .map_err(|_| bad("the part before '/' must be a number of slots"))?;
            if n == 0 {
                return Err(bad("a host needs at least 1 slot"));
            }
            (Some(n), host)
        }
        None => (None, entry),
    };
    if host.is_empty() {
        return Err(bad("the host name is empty"));
    }
    if host == ":" {
        return Ok(HostSpec {
            name: ":".into(),
            target: Target::Local,
            slots,
        });
    }
    if host.starts_with('-') {
        return Err(bad("a host name cannot start with '-'"));
    }
    if let Some(c) = host
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "/,'\"\\`$;&|<>()*?[]{}!#~".contains(*c))
    {
        return Err(bad(&format!(
            "'{}' is not allowed in a host name",
            c.escape_default()
        )));
    }
    let (destination, port) = match host.rsplit_once(':') {
        Some((dest, port)) => {
            let port: u16 = port
                .parse()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad("the port after ':' must be a number from 1 to 65535"))?;
            (dest, Some(port))
        }
        None => (host, None),
    };
    if destination.is_empty() || destination.contains(':') {
        return Err(bad("expected host, user@host or host:port"));
    }
    match destination.split_once('@') {
        Some((user, h)) if user.is_empty() || h.is_empty() || h.contains('@') => {
            return Err(bad("expected user@host"));
        }
        _ => {}
    }
    Ok(HostSpec {
        name: host.to_string(),
        target: Target::Ssh {
            destination: destination.to_string(),
            port,
        },
        slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(name: &str, dest: &str, port: Option<u16>, slots: Option<usize>) -> HostSpec {
        HostSpec {
            name: name.into(),
            target: Target::Ssh {
                destination: dest.into(),
                port,
            },
            slots,
        }
    }

    #[test]
    fn every_documented_form_parses() {
        assert_eq!(
            parse_list("alpha,2/bob@beta,gamma:2222,3/:, 4/u@h:22").unwrap(),
            [
                ssh("alpha", "alpha", None, None),
                ssh("bob@beta", "bob@beta", None, Some(2)),
                ssh("gamma:2222", "gamma", Some(2222), None),
                HostSpec {
                    name: ":".into(),
                    target: Target::Local,
                    slots: Some(3)
                },
                ssh("u@h:22", "u@h", Some(22), Some(4)),
            ]
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "",
            " ",
            "a,,b",
            "0/a",
            "x/a",
            "2/",
            "-oProxyCommand=x",
            "a b",
            "a:0",
            "a:x",
            "a:99999",
            "@h",
            "u@",
            "a;b",
            "2/3/a",
            "::",
            "u@h@i",
        ] {
            assert!(parse_list(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn files_skip_comments_and_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "# hosts\nalpha\n\n 2/beta  # two slots\n:,gamma\n").unwrap();
        let names: Vec<String> = read_file(&path)
            .unwrap()
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert_eq!(names, ["alpha", "beta", ":", "gamma"]);
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(read_file(&path).is_err());
        assert!(read_file(&dir.path().join("missing")).is_err());
    }
}
