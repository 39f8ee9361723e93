//! Parsing durations given on the command line: `30`, `1.5s`, `500ms`, `2m`, `1h`.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};

/// The longest duration pmap takes (about 31 years): longer ones are usage errors rather
/// than deadlines past what the clock can hold.
pub const MAX: Duration = Duration::from_secs(1_000_000_000);

/// Parses a duration; a bare number is seconds.
pub fn parse(flag: &str, s: &str) -> Result<Duration> {
    let bad = || {
        anyhow!(
            "invalid {flag} duration '{s}': expected a number of seconds or a number with ms, s, m or h (e.g. 30, 1.5s, 500ms, 2m)"
        )
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(bad()),
    };
    let duration = Duration::try_from_secs_f64(value * scale).map_err(|_| bad())?;
    if duration > MAX {
        bail!(
            "invalid {flag} duration '{s}': at most {} s (about 31 years)",
            MAX.as_secs()
        );
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_documented_forms() {
        assert_eq!(parse("--timeout", "30").unwrap(), Duration::from_secs(30));
        assert_eq!(
            parse("--timeout", "1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse("--timeout", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse("--timeout", "2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("--timeout", "1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("--delay", "1000000000").unwrap(), MAX);
        for bad in [
            "",
            "s",
            "1x",
            "-1",
            "1.2.3",
            "ms",
            "1 s",
            "1000000001",
            "1e400",
        ] {
            assert!(parse("--timeout", bad).is_err(), "{bad}");
        }
    }
}
