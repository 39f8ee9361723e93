//! What a replacement string does to its value: the path forms (`{.}`, `{/}`, `{//}`,
//! `{/.}` and `--plus`'s kin), `{= s/RE/REPL/ =}`, and `--plus`'s default and edits.

use super::Transform;

/// `v` as transform `t` makes it.
pub(super) fn transform<'v>(v: &'v [u8], t: &Transform) -> std::borrow::Cow<'v, [u8]> {
    std::borrow::Cow::Borrowed(match t {
        Transform::Whole => v,
        Transform::NoExt => {
            let base_start = v.len() - basename(v).len();
            &v[..base_start + strip_ext(basename(v)).len()]
        }
        Transform::Basename => basename(v),
        Transform::Dirname => dirname(v),
        Transform::BasenameNoExt => strip_ext(basename(v)),
        Transform::Substitute(s) => return s.apply(v),
        // As GNU parallel's: a name with fewer extensions than the form takes off stays
        // whole, and the extensions it would take off are empty.
        Transform::NoExts(n) => {
            let base = basename(v);
            let base_start = v.len() - base.len();
            &v[..base_start + strip_exts(base, *n).unwrap_or(base).len()]
        }
        Transform::BasenameNoExts(n) => strip_exts(basename(v), *n).unwrap_or(basename(v)),
        Transform::DirPart => &v[..(v.len() - basename(v).len()).saturating_sub(1)],
        Transform::Exts(n) => {
            let base = basename(v);
            match strip_exts(base, *n) {
                Some(kept) => &base[kept.len() + 1..],
                None => b"",
            }
        }
        Transform::Default(text) if v.is_empty() => return std::borrow::Cow::Owned(text.to_vec()),
        Transform::Default(_) => v,
        Transform::Plus(edit) => return edit.apply(v),
    })
}

/// `base` without its last `n` extensions, if it has so many.
fn strip_exts(base: &[u8], n: usize) -> Option<&[u8]> {
    let mut kept = base;
    for _ in 0..n {
        let shorter = strip_ext(kept);
        if shorter.len() == kept.len() {
            return None;
        }
        kept = shorter;
    }
    Some(kept)
}

fn basename(v: &[u8]) -> &[u8] {
    match v.iter().rposition(|&b| b == b'/') {
        Some(i) => &v[i + 1..],
        None => v,
    }
}

fn dirname(v: &[u8]) -> &[u8] {
    match v.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &v[..i],
        None => b".",
    }
}

/// A basename without its last extension; a dotfile such as `.bashrc` has none.
fn strip_ext(base: &[u8]) -> &[u8] {
    match base.iter().rposition(|&b| b == b'.') {
        Some(i) if i > 0 && base[..i].iter().any(|&b| b != b'.') => &base[..i],
        _ => base,
    }
}
