//! Signals, on a dedicated thread (signal-hook): SIGINT and SIGTERM stop new jobs and end
//! the running ones (SIGTERM to their process groups, SIGKILL after the grace); a second
//! SIGINT or SIGTERM kills them at once. SIGHUP only stops new jobs and lets running ones
//! finish. The collector notices and exits 130 or 143 once the jobs are gone.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::pool::Control;

/// Starts the signal thread for a run.
pub fn install(control: Arc<Control>, grace: Duration) -> Result<()> {
    let mut signals =
        Signals::new([SIGINT, SIGTERM, SIGHUP]).context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("pmap-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGHUP => control.stop(),
                    _ if control.interrupted_by().is_some() => control.kill_now(),
                    _ => {
                        control.set_interrupted(signal);
                        control.terminate(grace);
                    }
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
