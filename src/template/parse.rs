//! Parsing a command word into literal text and replacement strings: `{}` and its forms,
//! `{N…}`, `{#}`, `{%}`, `-I`'s string, `{= … =}` expressions and `--plus`'s strings.

use super::{Piece, TemplateError, Transform, Value, Word, expression, plus};

/// Which replacement strings a word may hold: `{host}` in a `--tagstring`, and `--plus`'s.
#[derive(Debug, Clone, Copy)]
pub(super) struct Syntax {
    pub(super) tag: bool,
    pub(super) plus: bool,
}

/// Parses one word of a command (or a whole shell line, or a `--tagstring`) into pieces.
pub(super) fn parse_word(
    word: &[u8],
    replace: Option<&[u8]>,
    syntax: Syntax,
) -> Result<Word, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal = Vec::new();
    let mut i = 0;
    while i < word.len() {
        if let Some(r) = replace.filter(|r| !r.is_empty() && word[i..].starts_with(r)) {
            flush(&mut literal, &mut pieces);
            pieces.push(Piece::Replace(Value::All, Transform::Whole));
            i += r.len();
            continue;
        }
        if word[i] != b'{' {
            literal.push(word[i]);
            i += 1;
            continue;
        }
        let rest = &word[i + 1..];
        if let Some((piece, used)) = parse_expression(rest, word)? {
            flush(&mut literal, &mut pieces);
            pieces.push(piece);
            i += 1 + used;
            continue;
        }
        let Some(close) = rest.iter().position(|&b| b == b'}') else {
            // `{`, `{1`, `{/.` at the end of a word were meant as replacement strings.
            if rest.iter().all(|b| b"0123456789./#%".contains(b)) {
                return Err(TemplateError::Unclosed(lossy(word)));
            }
            literal.extend_from_slice(&word[i..]);
            break;
        };
        match parse_replacement(&rest[..close], replace.is_some(), syntax)? {
            Some(Piece::Replace(Value::Nth(0), _)) => {
                return Err(TemplateError::IndexZero(lossy(word)));
            }
            Some(piece) => {
                flush(&mut literal, &mut pieces);
                pieces.push(piece);
                i += close + 2;
            }
            None => {
                literal.push(b'{');
                i += 1;
            }
        }
    }
    flush(&mut literal, &mut pieces);
    Ok(Word(pieces))
}

/// `{= s/RE/REPL/ =}`, or on value N `{=N … =}` (GNU parallel's spelling) or `{N= … =}`,
/// at the start of `rest` (just after the `{`): the piece, and how many bytes of `rest` it
/// took. `None` when `rest` starts no expression.
fn parse_expression(rest: &[u8], word: &[u8]) -> Result<Option<(Piece, usize)>, TemplateError> {
    let digits_in = |b: &[u8]| b.iter().take_while(|b| b.is_ascii_digit()).count();
    let before = digits_in(rest);
    if rest.get(before) != Some(&b'=') {
        return Ok(None);
    }
    let after = if before == 0 {
        digits_in(&rest[1..])
    } else {
        0
    };
    let positional = after > 0 && rest.get(1 + after).is_some_and(u8::is_ascii_whitespace);
    // The value's number, and where the expression starts.
    let (number, skip) = match (before, positional) {
        (0, true) => (&rest[1..=after], 1 + after),
        (0, false) => (&rest[..0], 1),
        _ => (&rest[..before], before + 1),
    };
    let body = &rest[skip..];
    let Some(end) = body.windows(2).position(|w| w == b"=}") else {
        return Err(TemplateError::Unclosed(lossy(word)));
    };
    let value = match std::str::from_utf8(number)
        .ok()
        .and_then(|d| d.parse().ok())
    {
        None => Value::All,
        Some(0) => return Err(TemplateError::IndexZero(lossy(word))),
        Some(n) => Value::Nth(n),
    };
    let text = String::from_utf8_lossy(&body[..end]);
    let substitution = expression::Substitution::parse(&text).map_err(TemplateError::Expression)?;
    let transform = Transform::Substitute(std::sync::Arc::new(substitution));
    Ok(Some((Piece::Replace(value, transform), skip + end + 2)))
}

fn flush(literal: &mut Vec<u8>, pieces: &mut Vec<Piece>) {
    if !literal.is_empty() {
        pieces.push(Piece::Literal(std::mem::take(literal)));
    }
}

/// Parses the inside of `{…}`; `None` means it is not a replacement string (e.g. awk code).
pub(super) fn parse_replacement(
    inner: &[u8],
    braces_renamed: bool,
    syntax: Syntax,
) -> Result<Option<Piece>, TemplateError> {
    let tag = syntax.tag;
    if syntax.plus
        && let Some(piece) = plus::count(inner)
    {
        return Ok(Some(piece));
    }
    let digits = inner.iter().take_while(|b| b.is_ascii_digit()).count();
    let (value, suffix) = if digits > 0 {
        let n = std::str::from_utf8(&inner[..digits])
            .ok()
            .and_then(|d| d.parse().ok());
        let Some(n) = n else { return Ok(None) };
        (Value::Nth(n), &inner[digits..])
    } else {
        match inner {
            b"#" => return Ok(Some(Piece::Replace(Value::Seq, Transform::Whole))),
            b"%" => return Ok(Some(Piece::Replace(Value::Slot, Transform::Whole))),
            b"host" if tag => return Ok(Some(Piece::Replace(Value::Host, Transform::Whole))),
            // With -I, `{}` is no longer special.
            b"" if braces_renamed => return Ok(None),
            _ => (Value::All, inner),
        }
    };
    let t = match suffix {
        b"" => Transform::Whole,
        b"." => Transform::NoExt,
        b"/" => Transform::Basename,
        b"//" => Transform::Dirname,
        b"/." => Transform::BasenameNoExt,
        _ if syntax.plus => match plus::transform(suffix)? {
            Some(t) => t,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(Piece::Replace(value, t)))
}

fn lossy(word: &[u8]) -> String {
    String::from_utf8_lossy(word).into_owned()
}
