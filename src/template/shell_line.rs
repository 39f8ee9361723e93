//! A template run as a shell line: its pieces, each replacement string with the quoting
//! context the template's own quotes give it (found once, at parse time), and how one job's
//! line is rendered from them.

use super::quoting::{self, Context, Scanner, quote_in};
use super::{JobContext, Piece, Value, Word, render_piece, transform};

/// A shell template: each piece with the quoting context it stands in (used by replacement
/// strings only), fixed by the template's own quotes.
#[derive(Debug, Clone)]
pub(super) struct ShellLine {
    pub(super) pieces: Vec<(Piece, Context)>,
    /// Where values appended after the line (no replacement string) stand.
    tail: Context,
}

impl ShellLine {
    pub(super) fn new(word: Word) -> Self {
        let mut scanner = Scanner::default();
        let mut pieces: Vec<(Piece, Context)> = Vec::with_capacity(word.0.len());
        for piece in &word.0 {
            let ctx = match piece {
                Piece::Literal(text) => {
                    scanner.feed(text);
                    Context::BARE
                }
                Piece::Replace(..) => {
                    let (ctx, escaped) = scanner.replacement();
                    if escaped {
                        // A backslash right before a replacement string is taken literally.
                        let backslash = quoting::literal_backslash(ctx);
                        match pieces.last_mut() {
                            Some((Piece::Literal(text), _)) => text.extend_from_slice(&backslash),
                            _ => pieces.push((Piece::Literal(backslash), Context::BARE)),
                        }
                    }
                    ctx
                }
            };
            pieces.push((piece.clone(), ctx));
        }
        let (tail, _) = scanner.replacement();
        if scanner.lost() {
            // A here-document: every value is quoted as a word of its own, as it stands.
            let pieces = word.0.into_iter().map(|p| (p, Context::BARE)).collect();
            return ShellLine {
                pieces,
                tail: Context::BARE,
            };
        }
        ShellLine { pieces, tail }
    }
}

impl ShellLine {
    /// The line for one job; `append` adds the job's values after it (the template has no
    /// replacement string).
    pub(super) fn render(&self, job: JobContext<'_>, append: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        for (piece, ctx) in &self.pieces {
            render_shell_piece(piece, *ctx, job, &mut out);
        }
        if append {
            for v in job.values {
                out.push(b' ');
                quote_in(self.tail, v, &mut out);
            }
        }
        out
    }
}

/// One piece of a shell line; in quotes, the values of `{}` are quoted together as the one
/// word the quotes make of them.
fn render_shell_piece(piece: &Piece, ctx: Context, job: JobContext<'_>, out: &mut Vec<u8>) {
    match piece {
        Piece::Replace(Value::All, t) if ctx.joins_values() => {
            let values: Vec<_> = job.values.iter().map(|v| transform(v, t)).collect();
            let values: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
            quote_in(ctx, &values.join(&b' '), out);
        }
        _ => render_piece(piece, job, out, |v, out| quote_in(ctx, v, out)),
    }
}
