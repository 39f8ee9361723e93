//! `--joblog`: one TAB-separated row per finished job in GNU parallel's format, each written
//! with a single write as the job finishes, so even `kill -9` leaves only whole rows; and
//! reading an existing log for `--resume` / `--resume-failed`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result, bail};

use crate::event::{JobResult, JobStatus};

const HEADER: &str = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n";

/// The open log.
pub struct JobLog {
    file: File,
}

/// What an existing log says about each job it holds: whether it succeeded.
pub type Logged = HashMap<u64, bool>;

impl JobLog {
    /// Creates (or truncates) the log, or with `append` opens it for appending. A log cut
    /// short mid-row (pmap was killed) loses its partial last row.
    pub fn open(path: &Path, append: bool) -> Result<Self> {
        let unwritable = || format!("cannot write --joblog '{}'", path.display());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!append)
            .open(path)
            .with_context(unwritable)?;
        let len = file.metadata().with_context(unwritable)?.len();
        if len == 0 {
            file.write_all(HEADER.as_bytes()).with_context(unwritable)?;
        } else {
            let mut last = [0u8];
            file.read_exact_at(&mut last, len - 1)
                .with_context(unwritable)?;
            if last[0] != b'\n' {
                let mut text = Vec::new();
                file.read_to_end(&mut text).with_context(unwritable)?;
                let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                file.set_len(keep as u64).with_context(unwritable)?;
            }
        }
        // Appending from here on (O_APPEND), so each row lands whole at the end.
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(unwritable)?;
        Ok(JobLog { file })
    }

    /// Appends `result`'s row, in one write.
    pub fn record(&mut self, result: &JobResult) -> io::Result<()> {
        let start = result
            .start
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let (exitval, signal) = match (&result.status, result.timed_out) {
            (_, true) => (-1, result.status.signal().unwrap_or(0)),
            (JobStatus::Exited(code), _) | (JobStatus::NotStarted { code, .. }, _) => (*code, 0),
            (JobStatus::Signaled(sig), _) => (0, *sig),
        };
        let command: String = String::from_utf8_lossy(&result.command)
            .chars()
            .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
            .collect();
        let row = format!(
            "{}\t{}\t{:.3}\t{:>10.3}\t0\t{}\t{}\t{}\t{}\n",
            result.seq,
            result.host.as_deref().unwrap_or(":"),
            start,
            result.runtime.as_secs_f64(),
            result.received,
            exitval,
            signal,
            command
        );
        self.file.write_all(row.as_bytes())
    }
}

/// Reads an existing log: each logged job's Seq and whether it succeeded. A missing file is
/// an empty log; a file that is not a joblog is an error.
pub fn read(path: &Path) -> Result<Logged> {
    let text = match File::open(path) {
        Ok(mut f) => {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)
                .with_context(|| format!("cannot read --joblog '{}'", path.display()))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Logged::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read --joblog '{}'", path.display()));
        }
    };
    let mut logged = Logged::new();
    let mut lines = text.split_inclusive('\n');
    match lines.next() {
        None => return Ok(logged),
        Some(first) if first == HEADER => {}
        Some(_) => bail!(
            "--joblog '{}' is not a joblog (its first line is not the joblog header); \
             give another file or remove it",
            path.display()
        ),
    }
    for (i, line) in lines.enumerate() {
        // A last row without its newline was cut short; that job counts as not run.
        let Some(line) = line.strip_suffix('\n') else {
            break;
        };
        let fields: Vec<&str> = line.splitn(9, '\t').collect();
        let parsed = (fields.len() == 9)
            .then(|| {
                Some((
                    fields[0].parse::<u64>().ok()?,
                    fields[6].trim().parse::<i64>().ok()?,
                    fields[7].trim().parse::<i64>().ok()?,
                ))
            })
            .flatten();
        let Some((seq, exitval, signal)) = parsed else {
            bail!(
                "--joblog '{}' is not a joblog: line {} is not a joblog row",
                path.display(),
                i + 2
            );
        };
        logged.insert(seq, exitval == 0 && signal == 0);
    }
    Ok(logged)
}
