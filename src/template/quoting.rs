//! Quoting values for a shell line, by where they stand in it (docs/decisions.md, "Values
//! inside quotes of your own").
//!
//! A [`Scanner`] reads the literal text of a shell template once, at parse time, and tells
//! the quoting [`Context`] at each replacement string: outside quotes, inside the template's
//! own double quotes, single quotes or `$'…'`, or in a comment, and under how many
//! backquotes. [`quote_in`] then writes a value so that the shell sees exactly its bytes as
//! data in that context.

/// The quotes a replacement string stands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quote {
    /// Outside any quotes: the value is quoted as a word of its own.
    Bare,
    /// Inside `"…"`: `$`, `` ` ``, `"` and `\` are escaped with a backslash.
    Double,
    /// Inside `'…'`: closed, quoted, reopened with `'`.
    Single,
    /// Inside bash's `$'…'`: closed, quoted, reopened with `$'`.
    AnsiC,
    /// In a `#` comment: the shell ignores it; a newline would end it, so it becomes a space.
    Comment,
}

/// Where one replacement string stands in a shell line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Context {
    pub quote: Quote,
    /// How many backquote substitutions enclose it (each one takes a level of `\`).
    pub backquotes: u8,
}

impl Context {
    /// Outside any quotes: today's quoting, and what a template the scanner cannot follow
    /// (a here-document) uses everywhere.
    pub const BARE: Context = Context {
        quote: Quote::Bare,
        backquotes: 0,
    };

    /// Whether several values of `{}` are quoted together, as the one word the template's
    /// quotes make of them (outside quotes each value is a word of its own).
    pub fn joins_values(self) -> bool {
        self.quote != Quote::Bare
    }
}

/// Appends `value` so that, standing in `ctx`, the shell reads exactly its bytes as data.
pub(super) fn quote_in(ctx: Context, value: &[u8], out: &mut Vec<u8>) {
    if ctx.backquotes == 0 {
        return quote_bare_of_backquotes(ctx.quote, value, out);
    }
    let mut text = Vec::with_capacity(value.len() + 8);
    quote_bare_of_backquotes(ctx.quote, value, &mut text);
    for _ in 0..ctx.backquotes {
        text = escape_for_backquotes(&text);
    }
    out.extend_from_slice(&text);
}

fn quote_bare_of_backquotes(quote: Quote, value: &[u8], out: &mut Vec<u8>) {
    match quote {
        Quote::Bare => quote_into(value, out),
        Quote::Double => {
            for &b in value {
                if matches!(b, b'$' | b'`' | b'"' | b'\\') {
                    out.push(b'\\');
                }
                out.push(b);
            }
        }
        Quote::Single => {
            out.push(b'\'');
            single_quote_into(value, out);
            out.push(b'\'');
        }
        Quote::AnsiC => {
            out.push(b'\'');
            single_quote_into(value, out);
            out.extend_from_slice(b"$'");
        }
        Quote::Comment => out.extend(value.iter().map(|&b| if b == b'\n' { b' ' } else { b })),
    }
}

/// Inside `` `…` `` the shell first turns `\\`, `` \` `` and `\$` into `\`, `` ` `` and `$`.
fn escape_for_backquotes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 4);
    for &b in text {
        if matches!(b, b'\\' | b'`' | b'$') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// A backslash that, standing in `ctx`, the shell reads as one literal backslash's escape:
/// added after a template's backslash that would otherwise escape a value's first byte.
pub(super) fn literal_backslash(ctx: Context) -> Vec<u8> {
    let mut text = b"\\".to_vec();
    for _ in 0..ctx.backquotes {
        text = escape_for_backquotes(&text);
    }
    text
}

/// Appends `value` quoted for a POSIX shell. A NUL byte cannot reach a command at all, so it
/// is quoted as-is and the spawn reports it.
pub(super) fn quote_into(value: &[u8], out: &mut Vec<u8>) {
    match shlex::bytes::try_quote(value) {
        Ok(q) => out.extend_from_slice(&q),
        Err(_) => single_quote_into(value, out),
    }
}

/// Appends `value` in single quotes (`'` as `'\''`): nothing in it is special to a POSIX
/// shell, whatever it holds.
pub fn single_quote_into(value: &[u8], out: &mut Vec<u8>) {
    out.push(b'\'');
    for &b in value {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
}

/// One open construct of the shell line, innermost last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// The line itself, outside quotes.
    Line,
    Double,
    Single,
    AnsiC,
    /// `$(…)`, with the depth of `(` opened inside it.
    Command(u32),
    Backquote,
    Comment,
}

/// Follows the quotes of a shell template through its literal text.
#[derive(Debug)]
pub(super) struct Scanner {
    stack: Vec<Frame>,
    /// The last byte was an unescaped backslash.
    escaped: bool,
    /// The next byte starts a word (so `#` starts a comment).
    word_start: bool,
    /// A here-document was seen: its body follows rules the scanner does not model.
    lost: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            stack: vec![Frame::Line],
            escaped: false,
            word_start: true,
            lost: false,
        }
    }
}

impl Scanner {
    /// Whether the scanner met a here-document, so that its contexts cannot be trusted.
    pub fn lost(&self) -> bool {
        self.lost
    }

    /// Reads one literal piece of the template.
    pub fn feed(&mut self, text: &[u8]) {
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            i += match self.top() {
                Frame::Line | Frame::Command(_) | Frame::Backquote => self.bare(rest),
                Frame::Double => self.double(rest),
                Frame::Single => self.single(text[i]),
                Frame::AnsiC => self.ansi_c(text[i]),
                Frame::Comment => self.comment(text[i]),
            };
        }
    }

    /// The context of a replacement string standing here, and whether a backslash right
    /// before it is still waiting for the byte it escapes.
    pub fn replacement(&mut self) -> (Context, bool) {
        let quote = match self.top() {
            Frame::Line | Frame::Command(_) | Frame::Backquote => Quote::Bare,
            Frame::Double => Quote::Double,
            Frame::Single => Quote::Single,
            Frame::AnsiC => Quote::AnsiC,
            Frame::Comment => Quote::Comment,
        };
        let backquotes = self
            .stack
            .iter()
            .filter(|f| **f == Frame::Backquote)
            .count();
        let ctx = Context {
            quote,
            backquotes: u8::try_from(backquotes).unwrap_or(u8::MAX),
        };
        let escaped = std::mem::take(&mut self.escaped);
        self.word_start = false;
        (ctx, escaped)
    }

    fn top(&self) -> Frame {
        self.stack.last().copied().unwrap_or(Frame::Line)
    }

    fn push(&mut self, frame: Frame) {
        self.stack.push(frame);
        self.word_start = matches!(frame, Frame::Command(_) | Frame::Backquote);
    }

    fn pop(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
        self.word_start = false;
    }

    /// Outside quotes (in the line, `$(…)` or `` `…` ``); returns the bytes consumed.
    fn bare(&mut self, rest: &[u8]) -> usize {
        if std::mem::take(&mut self.escaped) {
            self.word_start = false;
            return 1;
        }
        let b = rest[0];
        match (b, rest.get(1).copied()) {
            (b'\\', _) => self.escaped = true,
            (b'\'', _) => self.push(Frame::Single),
            (b'"', _) => self.push(Frame::Double),
            (b'$', Some(b'\'')) => {
                self.push(Frame::AnsiC);
                return 2;
            }
            (b'$', Some(b'(')) => {
                self.push(Frame::Command(0));
                return 2;
            }
            (b'`', _) if self.top() == Frame::Backquote => self.pop(),
            (b'`', _) => self.push(Frame::Backquote),
            (b'#', _) if self.word_start => self.push(Frame::Comment),
            (b'<', Some(b'<')) => return self.here_document(rest),
            (b'(' | b')', _) => self.paren(b),
            _ => self.word_start = b.is_ascii_whitespace() || b";&|<>".contains(&b),
        }
        1
    }

    /// `<<<` is a here-string (a plain word follows); `<<` starts a here-document.
    fn here_document(&mut self, rest: &[u8]) -> usize {
        self.word_start = true;
        if rest.starts_with(b"<<<") {
            return 3;
        }
        self.lost = true;
        2
    }

    fn paren(&mut self, b: u8) {
        self.word_start = true;
        match (self.top(), b) {
            (Frame::Command(0), b')') => self.pop(),
            (Frame::Command(d), b')') => self.set_top(Frame::Command(d - 1)),
            (Frame::Command(d), b'(') => self.set_top(Frame::Command(d + 1)),
            _ => {}
        }
    }

    fn set_top(&mut self, frame: Frame) {
        if let Some(top) = self.stack.last_mut() {
            *top = frame;
        }
    }

    fn double(&mut self, rest: &[u8]) -> usize {
        if std::mem::take(&mut self.escaped) {
            return 1;
        }
        match (rest[0], rest.get(1).copied()) {
            (b'\\', _) => self.escaped = true,
            (b'"', _) => self.pop(),
            (b'$', Some(b'(')) => {
                self.push(Frame::Command(0));
                return 2;
            }
            (b'`', _) => self.push(Frame::Backquote),
            _ => {}
        }
        1
    }

    fn single(&mut self, b: u8) -> usize {
        if b == b'\'' {
            self.pop();
        }
        1
    }

    fn ansi_c(&mut self, b: u8) -> usize {
        if std::mem::take(&mut self.escaped) {
            return 1;
        }
        match b {
            b'\\' => self.escaped = true,
            b'\'' => self.pop(),
            _ => {}
        }
        1
    }

    fn comment(&mut self, b: u8) -> usize {
        match b {
            b'\n' => {
                self.pop();
                self.word_start = true;
            }
            // A comment inside `` `…` `` ends where the substitution does.
            b'`' if self.stack.iter().rev().nth(1) == Some(&Frame::Backquote) => {
                self.pop();
                self.pop();
            }
            _ => {}
        }
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The context of each `{}` in `template`, and whether a backslash waits before it.
    fn contexts(template: &str) -> Vec<(Quote, u8, bool)> {
        let mut scanner = Scanner::default();
        let mut found = Vec::new();
        let mut parts = template.split("{}").peekable();
        while let Some(part) = parts.next() {
            scanner.feed(part.as_bytes());
            if parts.peek().is_some() {
                let (ctx, escaped) = scanner.replacement();
                found.push((ctx.quote, ctx.backquotes, escaped));
            }
        }
        assert!(!scanner.lost(), "{template}");
        found
    }

    fn quotes(template: &str) -> Vec<Quote> {
        contexts(template).into_iter().map(|c| c.0).collect()
    }

    fn quoted(ctx: Context, value: &[u8]) -> String {
        let mut out = Vec::new();
        quote_in(ctx, value, &mut out);
        String::from_utf8(out).unwrap()
    }

    use Quote::{AnsiC, Bare, Comment, Double, Single};

    #[test]
    fn quotes_of_the_template_are_followed() {
        assert_eq!(quotes("echo {}"), [Bare]);
        assert_eq!(
            quotes(r#"echo "{}" '{}' "a{}b" 'a{}b' {}"#),
            [Double, Single, Double, Single, Bare]
        );
        assert_eq!(quotes(r#"echo "x" {} 'y'"#), [Bare]);
        assert_eq!(
            quotes(r#"echo "it's {}" 'say "{}"' {}"#),
            [Double, Single, Bare]
        );
        assert_eq!(quotes("echo $'a\\'{}' {}"), [AnsiC, Bare]);
        assert_eq!(quotes("echo $\"{}\""), [Double]);
    }

    #[test]
    fn escaped_quotes_open_nothing() {
        assert_eq!(quotes(r#"echo \"{}\" \'{}"#), [Bare, Bare]);
        assert_eq!(quotes(r#"echo "a\"{}\"" {}"#), [Double, Bare]);
        assert_eq!(quotes(r#"echo '\' {}"#), [Bare]);
        assert_eq!(quotes(r#"echo "\\" {}"#), [Bare]);
    }

    #[test]
    fn substitutions_start_afresh_inside_double_quotes() {
        assert_eq!(
            quotes(r#"echo "$(echo {} "{}" ')')" {}"#),
            [Bare, Double, Bare]
        );
        assert_eq!(
            quotes(r#"echo "$( (echo {}) ; echo "{}")" "{}""#),
            [Bare, Double, Double]
        );
        assert_eq!(quotes("echo $((1 + 2)) {}"), [Bare]);
        assert_eq!(
            contexts(r#"echo "`echo {} "{}"`" `echo '{}'` {}"#),
            [
                (Bare, 1, false),
                (Double, 1, false),
                (Single, 1, false),
                (Bare, 0, false)
            ]
        );
    }

    #[test]
    fn comments_hide_quotes() {
        assert_eq!(quotes("echo it # it's {}\necho {}"), [Comment, Bare]);
        assert_eq!(quotes("echo a#'{}'"), [Single]);
        assert_eq!(quotes("echo `true # it's` {}"), [Bare]);
    }

    #[test]
    fn a_backslash_before_a_replacement_string_is_reported() {
        assert_eq!(contexts(r"echo \{}"), [(Bare, 0, true)]);
        assert_eq!(contexts(r#"echo "\{}""#), [(Double, 0, true)]);
        assert_eq!(contexts(r"echo '\{}'"), [(Single, 0, false)]);
        assert_eq!(contexts(r"echo \\{}"), [(Bare, 0, false)]);
    }

    #[test]
    fn here_documents_are_not_followed_but_here_strings_are() {
        let mut scanner = Scanner::default();
        scanner.feed(b"cat <<EOF\nit's\nEOF\n");
        assert!(scanner.lost());
        assert_eq!(quotes("cat <<< \"{}\""), [Double]);
    }

    #[test]
    fn values_are_quoted_for_their_context() {
        let ctx = |quote| Context {
            quote,
            backquotes: 0,
        };
        let v = b"it's \"$x\" `y` \\ \n";
        assert_eq!(quoted(ctx(Bare), b"a b"), "'a b'");
        assert_eq!(quoted(ctx(Double), v), "it's \\\"\\$x\\\" \\`y\\` \\\\ \n");
        assert_eq!(quoted(ctx(Single), b"it's"), r"''it'\''s''");
        assert_eq!(quoted(ctx(AnsiC), b"it's"), r"''it'\''s'$'");
        assert_eq!(quoted(ctx(Comment), b"a\nb"), "a b");
        let in_backquotes = Context {
            quote: Double,
            backquotes: 1,
        };
        assert_eq!(quoted(in_backquotes, b"$x\\"), r"\\\$x\\\\");
        assert_eq!(literal_backslash(in_backquotes), br"\\");
        assert_eq!(literal_backslash(ctx(Bare)), br"\");
    }
}
