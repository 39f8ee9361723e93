//! `--dry-run`: print each command as it would run, one per line, in input order.

use std::io::{self, BufWriter, Write};

use crate::config::Config;
use crate::exit::Outcome;
use crate::input::JobReader;
use crate::template::JobContext;

/// Prints every job's command; runs nothing. `{%}` shows the slot the job would take if
/// every job took equally long.
pub fn print(jobs: JobReader, config: &Config) -> Outcome {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut line = Vec::with_capacity(256);
    for job in jobs {
        let job = match job {
            Ok(job) => job,
            Err(e) => {
                let _ = out.flush();
                eprintln!("pmap: cannot read input: {e}");
                return Outcome::Error;
            }
        };
        let slot = ((job.seq - 1) % config.jobs as u64) as usize + 1;
        let rendered = config.template.render(JobContext {
            values: &job.values,
            seq: job.seq,
            slot,
            host: ":",
        });
        line.clear();
        rendered.display_line_into(&mut line);
        line.push(b'\n');
        if let Err(e) = out.write_all(&line) {
            return super::write_failed(e);
        }
    }
    match out.flush() {
        Ok(()) => Outcome::Success,
        Err(e) => super::write_failed(e),
    }
}
