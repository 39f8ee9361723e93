//! The `--pipe` family of flags, validated into a [`PipeConfig`]: block size, record
//! separators, `-N`, `-L`, `--header`, `--round-robin`, `--pipepart`, `--cat`, `--fifo`.

use anyhow::{Result, bail};
use regex::bytes::Regex;

use crate::cli::{Cli, PoolKind};
use crate::input::SourceSpec;
use crate::input::blocks::{BlockSize, Delivery, HeaderSpec, PipeConfig};
use crate::input::separator::Separator;

use super::values::{Escapes, unescape};

/// The default `--block`.
pub const DEFAULT_BLOCK: usize = 1 << 20;

/// Whether jobs get blocks of input instead of items: `--pipe`, `--pipepart`, or one of
/// `--cat`, `--fifo` and `--round-robin`, which imply `--pipe`.
pub fn wants_blocks(cli: &Cli) -> bool {
    cli.pipe || cli.pipepart || cli.cat || cli.fifo || cli.round_robin
}

/// `--pipe` and its companions; `None` without blocks ([`wants_blocks`]), when none of the
/// block flags may be given either.
pub fn pipe_config(cli: &Cli, slots: usize, sources: &[SourceSpec]) -> Result<Option<PipeConfig>> {
    if !wants_blocks(cli) {
        refuse_block_flags(cli)?;
        return Ok(None);
    }
    check_combinations(cli)?;
    let part_of = if cli.pipepart {
        match sources {
            [SourceSpec::File(path)] => Some(path.clone()),
            _ => bail!("--pipepart needs exactly one input file, given with -a FILE"),
        }
    } else {
        if sources.len() > 1 || sources.iter().any(|s| matches!(s, SourceSpec::Inline(_))) {
            bail!("--pipe reads standard input or one -a FILE, not ::: items or several sources");
        }
        None
    };
    let block = match &cli.block {
        None => BlockSize::Bytes(DEFAULT_BLOCK),
        Some(text) => parse_block(text)?,
    };
    let records_per_job = match cli.max_records {
        Some(0) => bail!("-N must be at least 1 with --pipe"),
        n => n,
    };
    let delivery = match (cli.cat, cli.fifo) {
        (true, _) => Delivery::TempFile,
        (_, true) => Delivery::Fifo,
        _ => Delivery::Stdin,
    };
    Ok(Some(PipeConfig {
        part_of,
        block,
        separator: separator(cli)?,
        remove_separators: cli.rrs,
        records_per_job,
        header: cli.header.as_deref().map(parse_header).transpose()?,
        round_robin: cli.round_robin,
        slots,
        delivery,
    }))
}

/// The block flags mean nothing without blocks.
fn refuse_block_flags(cli: &Cli) -> Result<()> {
    let given = [
        ("--block", cli.block.is_some()),
        ("--recend", cli.recend.is_some()),
        ("--recstart", cli.recstart.is_some()),
        ("--regexp", cli.regexp),
        ("--rrs", cli.rrs),
    ];
    if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
        bail!("{flag} works only with --pipe or --pipepart");
    }
    Ok(())
}

/// Combinations that cannot work, refused up front.
fn check_combinations(cli: &Cli) -> Result<()> {
    let refuse = |what: &str| -> Result<()> { bail!("{what}") };
    if cli.pool == PoolKind::Process {
        refuse("--pipe does not work with --pool process: a worker reads items, not blocks")?;
    }
    let remote = !cli.sshlogin.is_empty() || !cli.sshlogin_file.is_empty();
    if remote && (cli.cat || cli.fifo || cli.round_robin) {
        refuse("--cat, --fifo and --round-robin work with local jobs only, not with -S")?;
    }
    if cli.round_robin && (cli.cat || cli.fifo) {
        refuse("--round-robin feeds running jobs on stdin; it does not work with --cat or --fifo")?;
    }
    if cli.round_robin && cli.pipepart {
        refuse("--round-robin works with --pipe, not --pipepart")?;
    }
    if cli.round_robin && cli.retries.is_some_and(|n| n > 1) {
        refuse("--retries does not work with --round-robin: the blocks a job was fed are gone")?;
    }
    if cli.pipepart {
        for (flag, on) in [
            ("-N", cli.max_records.is_some()),
            ("-L", cli.max_lines.is_some()),
            ("--rrs", cli.rrs),
        ] {
            if on {
                bail!("{flag} needs every record read in order: use --pipe, not --pipepart");
            }
        }
    }
    for (flag, on) in [
        ("--shuf", cli.shuf),
        ("-n", cli.max_args.is_some()),
        ("--colsep", cli.colsep.is_some()),
        ("--csv", cli.csv),
        ("--link", cli.link),
    ] {
        if on {
            bail!("{flag} shapes items into jobs; with --pipe a job gets a block (see -N, -L)");
        }
    }
    if cli.max_lines.is_some() && (cli.recend.is_some() || cli.recstart.is_some()) {
        refuse("-L makes N lines one record; it cannot be combined with --recend or --recstart")?;
    }
    Ok(())
}

/// The record separator: `-L`, or `--recend` and `--recstart` (as regexes with `--regexp`).
fn separator(cli: &Cli) -> Result<Separator> {
    if let Some(n) = cli.max_lines {
        if n == 0 {
            bail!("-L must be at least 1");
        }
        return Ok(Separator::lines_per_record(n));
    }
    // GNU parallel's defaults: a newline ends records, unless only --recstart is given.
    let end = match (&cli.recend, &cli.recstart) {
        (Some(end), _) => end.clone(),
        (None, Some(_)) => String::new(),
        (None, None) => "\\n".to_string(),
    };
    let start = cli.recstart.clone().unwrap_or_default();
    if cli.regexp {
        Separator::regex(&end, &start)
            .map_err(|e| anyhow::anyhow!("--recend/--recstart is not a valid regex: {e}"))
    } else {
        let separator = |text: &str| unescape(text.as_bytes(), Escapes::Separator);
        Ok(Separator::literal(separator(&end)?, separator(&start)?))
    }
}

/// `--block SIZE`: a size (see [`super::values::parse_size`]); `-N` for N blocks per slot.
pub fn parse_block(text: &str) -> Result<BlockSize> {
    if let Some(n) = text.strip_prefix('-') {
        return match n.parse::<u64>() {
            Ok(n) if n > 0 => Ok(BlockSize::PerSlot(n)),
            _ => bail!("--block '{text}': expected a size such as 1M, 500k or 65536, or -N"),
        };
    }
    let bytes = super::values::parse_size("--block", text)?;
    if bytes == 0 {
        bail!("--block '{text}': the block must be at least 1 byte");
    }
    if bytes > isize::MAX as u64 / 4 {
        bail!("--block '{text}' is too big");
    }
    Ok(BlockSize::Bytes(bytes as usize))
}

/// `--header`: a number of lines, `:` for one, or a regex matched at the input's start.
fn parse_header(text: &str) -> Result<HeaderSpec> {
    if text == ":" {
        return Ok(HeaderSpec::Lines(1));
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse() {
            Ok(n) => Ok(HeaderSpec::Lines(n)),
            Err(_) => bail!("--header '{text}': too many lines"),
        };
    }
    match Regex::new(&format!("\\A(?:{text})")) {
        Ok(re) => Ok(HeaderSpec::Regex(re)),
        Err(e) => bail!("--header '{text}' is neither a number of lines nor a valid regex: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_block("1M").unwrap(), BlockSize::Bytes(1 << 20));
        assert_eq!(parse_block("10k").unwrap(), BlockSize::Bytes(10_000));
        assert_eq!(parse_block("1.5K").unwrap(), BlockSize::Bytes(1536));
        assert_eq!(parse_block("65536").unwrap(), BlockSize::Bytes(65536));
        assert_eq!(parse_block("-2").unwrap(), BlockSize::PerSlot(2));
        for bad in ["0", "abc", "1X", "-0", "", "0.1"] {
            assert!(parse_block(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn separators_understand_escapes() {
        let unescape = |text: &str| unescape(text.as_bytes(), Escapes::Separator);
        assert_eq!(unescape("\\0").unwrap(), b"\0");
        assert_eq!(unescape("a\\nb\\x41\\\\").unwrap(), b"a\nbA\\");
        assert_eq!(unescape("\\q").unwrap(), b"\\q");
        assert!(unescape("\\x4").is_err());
    }
}
