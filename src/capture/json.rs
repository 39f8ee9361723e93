//! The JSON record of a finished job: one line per job for `--json`, and `meta.json` (the
//! same fields without the output) for `--results`.

use std::borrow::Cow;
use std::time::UNIX_EPOCH;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;

use crate::event::JobResult;

#[derive(Serialize)]
struct Record<'a> {
    seq: u64,
    slot: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    args: Vec<Cow<'a, str>>,
    command: Cow<'a, str>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    start: f64,
    runtime: f64,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr_base64: Option<String>,
}

/// Text if the bytes are UTF-8, else base64 in the `_base64` field.
fn text_or_base64(bytes: &[u8]) -> (Option<Cow<'_, str>>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(Cow::Borrowed(text)), None),
        Err(_) => (None, Some(BASE64.encode(bytes))),
    }
}

/// One JSON object (no trailing newline) for `result`; with `output`, its stdout and stderr.
pub fn record(result: &JobResult, output: Option<(&[u8], &[u8])>) -> Vec<u8> {
    let ((stdout, stdout_base64), (stderr, stderr_base64)) = match output {
        Some((out, err)) => (text_or_base64(out), text_or_base64(err)),
        None => ((None, None), (None, None)),
    };
    let record = Record {
        seq: result.seq,
        slot: result.slot,
        host: result.host.as_deref(),
        args: result
            .values
            .iter()
            .map(|v| String::from_utf8_lossy(v))
            .collect(),
        command: String::from_utf8_lossy(&result.command),
        exit_code: result.status.exit_code(),
        signal: result.status.signal(),
        start: result
            .start
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
        runtime: result.runtime.as_secs_f64(),
        attempts: result.attempts,
        stdout,
        stdout_base64,
        stderr,
        stderr_base64,
    };
    // Serializing plain strings and numbers cannot fail.
    serde_json::to_vec(&record).unwrap_or_default()
}
