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
        Transform::NoExts(n) => {
            let base_start = v.len() - basename(v).len();
            &v[..base_start + strip_exts(basename(v), *n).len()]
        }
        Transform::BasenameNoExts(n) => strip_exts(basename(v), *n),
        Transform::DirPart => &v[..(v.len() - basename(v).len()).saturating_sub(1)],
        Transform::Exts(n) => {
            let base = basename(v);
            let kept = strip_exts(base, *n).len();
            base.get(kept + 1..).unwrap_or(b"")
        }
        Transform::Default(text) if v.is_empty() => return std::borrow::Cow::Owned(text.to_vec()),
        Transform::Default(_) => v,
        Transform::Plus(edit) => return edit.apply(v),
    })
}

/// `base` without its last `n` extensions.
fn strip_exts(base: &[u8], n: usize) -> &[u8] {
    (0..n).fold(base, |b, _| strip_ext(b))
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
