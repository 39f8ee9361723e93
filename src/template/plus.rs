//! `--plus`'s replacement strings: the path forms (`{..}`, `{+.}`, …), the counts
//! (`{##}`, `{0#}`, `{0%}`) and the bash-like forms (`{:-TEXT}`, `{:N}`, `{:N:M}`,
//! `{#RE}`, `{##RE}`, `{%RE}`, `{%%RE}`, `{/RE/TEXT}`, `{//RE/TEXT}`, `{^RE}`, `{^^RE}`, `{,RE}`,
//! `{,,RE}`), named as GNU parallel names them. Patterns are regexes (the `regex` crate's
//! syntax), as GNU parallel's are Perl regexes, not shell globs.

use std::borrow::Cow;
use std::sync::Arc;

use regex::bytes::Regex;

use super::{Piece, TemplateError, Transform, Value};

/// A bash-like edit of a value.
#[derive(Debug, Clone)]
pub(super) enum Edit {
    /// `{:N}`, `{:N:M}`: the bytes from N on (M of them).
    Substring { start: usize, len: Option<usize> },
    /// `{#RE}`, `{##RE}`, `{%RE}`, `{%%RE}`, `{/RE/TEXT}`: the first match replaced.
    Replace { re: Regex, with: Vec<u8> },
    /// `{//RE/TEXT}`: every match replaced.
    ReplaceAll { re: Regex, with: Vec<u8> },
    /// `{^RE}`, `{^^RE}`, `{,RE}`, `{,,RE}`: the match at the start (every match) upper- or
    /// lower-cased.
    Case { re: Regex, upper: bool, all: bool },
}

/// An edit, with the text it was written as (for equality).
#[derive(Debug, Clone)]
pub(super) struct PlusEdit {
    edit: Edit,
    text: Vec<u8>,
}

impl PartialEq for PlusEdit {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for PlusEdit {}

impl PlusEdit {
    pub(super) fn apply<'v>(&self, v: &'v [u8]) -> Cow<'v, [u8]> {
        match &self.edit {
            Edit::Substring { start, len } => {
                let from = (*start).min(v.len());
                let to = len.map_or(v.len(), |n| from.saturating_add(n).min(v.len()));
                Cow::Borrowed(&v[from..to])
            }
            Edit::Replace { re, with } => re.replacen(v, 1, with.as_slice()),
            Edit::ReplaceAll { re, with } => re.replace_all(v, with.as_slice()),
            Edit::Case { re, upper, all } => {
                let limit = if *all { 0 } else { 1 };
                re.replacen(v, limit, |caps: &regex::bytes::Captures<'_>| {
                    let m = &caps[0];
                    if *upper {
                        m.to_ascii_uppercase()
                    } else {
                        m.to_ascii_lowercase()
                    }
                })
            }
        }
    }
}

/// The counts `--plus` adds: `{##}`, `{0#}`, `{0%}`. Their numbers are filled in by
/// [`super::Template::set_counts`] once the total and the slots are known.
pub(super) fn count(inner: &[u8]) -> Option<Piece> {
    let value = match inner {
        b"##" => Value::Total(0),
        b"0#" => Value::SeqPadded(1),
        b"0%" => Value::SlotPadded(1),
        _ => return None,
    };
    Some(Piece::Replace(value, Transform::Whole))
}

/// `--plus`'s forms after the value's number (if any): the path forms, then the bash-like
/// ones. `Ok(None)`: not a replacement string (left as text, like awk's `{print}`).
pub(super) fn transform(suffix: &[u8]) -> Result<Option<Transform>, TemplateError> {
    let path = match suffix {
        b".." => Transform::NoExts(2),
        b"..." => Transform::NoExts(3),
        b"/.." => Transform::BasenameNoExts(2),
        b"/..." => Transform::BasenameNoExts(3),
        b"+/" => Transform::DirPart,
        b"+." => Transform::Exts(1),
        b"+.." => Transform::Exts(2),
        b"+..." => Transform::Exts(3),
        _ => {
            if let Some(text) = suffix.strip_prefix(b":-") {
                return Ok(Some(Transform::Default(Arc::new(text.to_vec()))));
            }
            return Ok(bash_edit(suffix)?.map(|edit| {
                Transform::Plus(Arc::new(PlusEdit {
                    edit,
                    text: suffix.to_vec(),
                }))
            }));
        }
    };
    Ok(Some(path))
}

/// The bash-like forms; `Ok(None)` when `suffix` is none of them.
fn bash_edit(suffix: &[u8]) -> Result<Option<Edit>, TemplateError> {
    let Ok(text) = std::str::from_utf8(suffix) else {
        return Ok(None);
    };
    if let Some(range) = text.strip_prefix(':') {
        return Ok(substring(range));
    }
    let replace = |pattern: String, with: &str| -> Result<Option<Edit>, TemplateError> {
        Ok(Some(Edit::Replace {
            re: regex(&pattern, text)?,
            with: with.as_bytes().to_vec(),
        }))
    };
    let case = |pattern: &str, upper: bool, all: bool| -> Result<Option<Edit>, TemplateError> {
        let anchored = if all {
            pattern.to_string()
        } else {
            format!("^(?:{pattern})")
        };
        Ok(Some(Edit::Case {
            re: regex(&anchored, text)?,
            upper,
            all,
        }))
    };
    let nonempty = |p: &str| (!p.is_empty()).then_some(());
    if let Some(p) = text.strip_prefix("##") {
        nonempty(p).map_or(Ok(None), |()| replace(format!("^(?:{p})"), ""))
    } else if let Some(p) = text.strip_prefix('#') {
        nonempty(p).map_or(Ok(None), |()| replace(format!("^(?U:{p})"), ""))
    } else if let Some(p) = text.strip_prefix("%%") {
        nonempty(p).map_or(Ok(None), |()| replace(format!("(?:{p})$"), ""))
    } else if let Some(p) = text.strip_prefix('%') {
        // The shortest suffix: a greedy head keeps as much as it can.
        nonempty(p).map_or(Ok(None), |()| {
            replace(format!("^(?s)(.*)(?U:{p})$"), "${1}")
        })
    } else if let Some((p, with)) = text.strip_prefix("//").and_then(|t| t.split_once('/')) {
        nonempty(p).map_or(Ok(None), |()| {
            Ok(Some(Edit::ReplaceAll {
                re: regex(p, text)?,
                with: with.as_bytes().to_vec(),
            }))
        })
    } else if let Some((p, with)) = text.strip_prefix('/').and_then(|t| t.split_once('/')) {
        nonempty(p).map_or(Ok(None), |()| replace(p.to_string(), with))
    } else if let Some(p) = text.strip_prefix("^^") {
        nonempty(p).map_or(Ok(None), |()| case(p, true, true))
    } else if let Some(p) = text.strip_prefix('^') {
        nonempty(p).map_or(Ok(None), |()| case(p, true, false))
    } else if let Some(p) = text.strip_prefix(",,") {
        nonempty(p).map_or(Ok(None), |()| case(p, false, true))
    } else if let Some(p) = text.strip_prefix(',') {
        nonempty(p).map_or(Ok(None), |()| case(p, false, false))
    } else {
        Ok(None)
    }
}

/// `N` or `N:M` (after `{:`).
fn substring(range: &str) -> Option<Edit> {
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (start, len) = match range.split_once(':') {
        Some((start, len)) => (number(start)?, Some(number(len)?)),
        None => (number(range)?, None),
    };
    Some(Edit::Substring { start, len })
}

fn regex(pattern: &str, form: &str) -> Result<Regex, TemplateError> {
    Regex::new(pattern).map_err(|e| {
        let why = e.to_string();
        let last = why.lines().last().unwrap_or_default().trim();
        let last = last.strip_prefix("error: ").unwrap_or(last);
        TemplateError::Expression(format!("'{{{form}}}': invalid regex: {last}"))
    })
}

/// How many digits `n` has: the width `{0#}` and `{0%}` pad to.
pub(super) fn width(n: u64) -> usize {
    n.max(1).ilog10() as usize + 1
}
