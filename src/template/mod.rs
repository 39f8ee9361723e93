//! Replacement strings (SPEC §2) and how a job's command is built (SPEC §3).
//!
//! The command is parsed once into a [`Template`]; each job renders it either into an argv
//! (direct exec, no shell: every value is exactly one argument) or into one shell line in
//! which every substituted value is quoted for where it stands (`quoting`), so items are
//! only ever data.

mod expression;
mod names;
mod parse;
mod plus;
mod quoting;
mod shell_line;
mod transforms;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use thiserror::Error;

pub use names::ColumnNames;
use parse::{Syntax, parse_word};
use quoting::quote_into;
pub use quoting::single_quote_into;
use shell_line::ShellLine;
use transforms::transform;

/// A problem in the command template, found before any job runs.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("unclosed '{{' in command template '{0}' (a replacement string ends with '}}')")]
    Unclosed(String),
    #[error("'{{0}}' in command template '{0}': columns and input sources count from 1")]
    IndexZero(String),
    #[error("{0}")]
    Expression(String),
}

/// What a replacement string stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    /// `{}`, `{.}`, …: all of the job's values.
    All,
    /// `{N}`, `{N.}`, …: value N (1-based).
    Nth(usize),
    /// `{#}`: the job's sequence number.
    Seq,
    /// `{%}`: the slot running the job.
    Slot,
    /// `{host}` (in `--tagstring` only): the host running the job.
    Host,
    /// `--plus`: `{##}`, the number of jobs.
    Total(u64),
    /// `--plus`: `{0#}`, the job's number padded with zeros to this width.
    SeqPadded(usize),
    /// `--plus`: `{0%}`, the slot padded with zeros to this width.
    SlotPadded(usize),
}

/// How a value is transformed before substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Transform {
    Whole,
    NoExt,
    Basename,
    Dirname,
    BasenameNoExt,
    /// `{= s/RE/REPL/ =}`.
    Substitute(std::sync::Arc<expression::Substitution>),
    /// `--plus`: `{..}`, `{...}`: so many extensions off.
    NoExts(usize),
    /// `--plus`: `{/..}`, `{/...}`.
    BasenameNoExts(usize),
    /// `--plus`: `{+/}`: the directory part, without its last slash.
    DirPart,
    /// `--plus`: `{+.}`, `{+..}`, `{+...}`: the extensions `{.}` and its kin take off.
    Exts(usize),
    /// `--plus`: `{:-TEXT}`.
    Default(std::sync::Arc<Vec<u8>>),
    /// `--plus`: `{:N:M}`, `{#RE}`, `{/RE/TEXT}`, `{^RE}`, and their kin.
    Plus(std::sync::Arc<plus::PlusEdit>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Replace(Value, Transform),
}

/// One parsed word (or, in shell mode, the whole shell line).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word(Vec<Piece>);

#[derive(Debug, Clone)]
enum Shape {
    /// Several words, or one plain word: executed directly.
    Direct(Vec<Word>),
    /// One shell line, run with `$PMAP_SHELL -c` or `/bin/sh -c`.
    Shell(ShellLine),
    /// No command at all: each job's values, joined by spaces, are the shell line
    /// (GNU parallel's behaviour for `parallel ::: 'cmd1' 'cmd2'`).
    ItemsAreCommands,
}

/// What a template was parsed from, kept to parse it again once `--header` has named the
/// columns (`{name}` is text until then).
#[derive(Debug)]
struct Source {
    words: Vec<OsString>,
    replace: Option<Vec<u8>>,
    force_shell: bool,
    never_shell: bool,
    plus: bool,
}

/// A parsed command template.
#[derive(Debug, Clone)]
pub struct Template {
    source: std::sync::Arc<Source>,
    shape: Shape,
    /// Whether any replacement string occurs; if none, values are appended.
    uses_items: bool,
    /// The largest `N` of any `{N…}`, 0 if none.
    max_index: usize,
    /// `-X`: a word with `{}` in it is repeated once per value.
    context_replace: bool,
}

/// What one job contributes to its command.
#[derive(Debug, Clone, Copy)]
pub struct JobContext<'a> {
    pub values: &'a [Vec<u8>],
    pub seq: u64,
    pub slot: usize,
    /// The host running the job, as given in `--sshlogin` (`:` for this machine).
    pub host: &'a str,
}

/// A rendered command: either an argv or a shell line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    Argv(Vec<OsString>),
    ShellLine(Vec<u8>),
}

/// Characters that make a lone command word a shell line (SPEC §3).
const SHELL_SYNTAX: &[u8] = b"|&;<>()$`\\\"'*?[#~";

impl Template {
    /// Parses the command words. `replace` is `-I STR`; `force_shell` is `--shell`.
    pub fn parse(
        words: &[OsString],
        replace: Option<&[u8]>,
        force_shell: bool,
    ) -> Result<Self, TemplateError> {
        Self::parse_as(words, replace, force_shell, false, false)
    }

    /// [`Template::parse`], with `-q`/`--quote` (`never_shell`): the words are always run
    /// directly, even a lone word with shell syntax in it; and `--plus` (`plus`): its
    /// replacement strings (`{..}`, `{+.}`, `{:-default}`, …) are replacement strings.
    pub fn parse_as(
        words: &[OsString],
        replace: Option<&[u8]>,
        force_shell: bool,
        never_shell: bool,
        plus: bool,
    ) -> Result<Self, TemplateError> {
        let source = Source {
            words: words.to_vec(),
            replace: replace.map(<[u8]>::to_vec),
            force_shell,
            never_shell,
            plus,
        };
        Self::from_source(std::sync::Arc::new(source), None)
    }

    /// Parses `source`; with `names`, each `{name}` (and its path forms) is first rewritten
    /// as the `{N}` of that column. Whether a lone word is a shell line is decided on the
    /// words as written, so naming the columns never changes how the command runs.
    fn from_source(
        source: std::sync::Arc<Source>,
        names: Option<&ColumnNames>,
    ) -> Result<Self, TemplateError> {
        let (words, force_shell) = (&source.words[..], source.force_shell);
        let replace = source.replace.as_deref();
        let syntax = Syntax {
            tag: false,
            plus: source.plus,
        };
        let parse = |w: &[u8]| match names {
            Some(names) => parse_word(&names.rewrite(w, replace, syntax), replace, syntax),
            None => parse_word(w, replace, syntax),
        };
        let shape = match words {
            [] => Shape::ItemsAreCommands,
            [one] if force_shell || (!source.never_shell && needs_shell(one.as_bytes())) => {
                Shape::Shell(ShellLine::new(parse(one.as_bytes())?))
            }
            _ if force_shell => {
                let line = words
                    .iter()
                    .map(|w| w.as_bytes())
                    .collect::<Vec<_>>()
                    .join(&b' ');
                Shape::Shell(ShellLine::new(parse(&line)?))
            }
            _ => Shape::Direct(
                words
                    .iter()
                    .map(|w| parse(w.as_bytes()))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let pieces: Vec<&Piece> = match &shape {
            Shape::Direct(ws) => ws.iter().flat_map(|w| &w.0).collect(),
            Shape::Shell(line) => line.pieces.iter().map(|(p, _)| p).collect(),
            Shape::ItemsAreCommands => Vec::new(),
        };
        // Any replacement string, even `{#}` alone, means the values are not appended
        // (GNU parallel does the same).
        let uses_items = pieces.iter().any(|p| matches!(p, Piece::Replace(..)));
        let max_index = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Replace(Value::Nth(n), _) => Some(*n),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Ok(Template {
            source: std::sync::Arc::clone(&source),
            shape,
            uses_items,
            max_index,
            context_replace: false,
        })
    }

    /// `-X`: repeat each word that has `{}` (or `{.}`, …) among other text once per value,
    /// instead of putting all values into one word. Only a command of words has words:
    /// false (and nothing changes) for a shell line.
    pub fn repeat_words_per_value(&mut self) -> bool {
        self.context_replace = matches!(self.shape, Shape::Direct(_));
        self.context_replace
    }

    /// The bytes that starting the command for these values takes: each argument and its
    /// terminating NUL (xargs' `-s` count), and with `pointers` its pointer too (what the
    /// system's limit on arguments and environment counts).
    pub fn exec_size(&self, values: &[Vec<u8>], pointers: bool) -> usize {
        let job = JobContext {
            values,
            seq: u64::MAX,
            slot: 1,
            host: ":",
        };
        let pointer = if pointers {
            std::mem::size_of::<usize>()
        } else {
            0
        };
        let arg = |len: usize| len + 1 + pointer;
        match self.render(job) {
            Rendered::Argv(argv) => argv.iter().map(|a| arg(a.len())).sum(),
            // The shell, "-c" and the line.
            Rendered::ShellLine(line) => arg(line.len()) + arg(16) + arg(2),
        }
    }

    /// The largest `N` used in `{N}`-style replacement strings (0 if none).
    pub fn max_index(&self) -> usize {
        self.max_index
    }

    /// Whether the command uses anything of a particular job (`{}`, `{N}`, `{#}`, …), as
    /// opposed to only the slot (`{%}`).
    pub fn uses_job_values(&self) -> bool {
        let pieces: Vec<&Piece> = match &self.shape {
            Shape::Direct(ws) => ws.iter().flat_map(|w| &w.0).collect(),
            Shape::Shell(line) => line.pieces.iter().map(|(p, _)| p).collect(),
            Shape::ItemsAreCommands => return true,
        };
        pieces
            .iter()
            .any(|p| matches!(p, Piece::Replace(v, _) if *v != Value::Slot))
    }

    /// The program of a directly executed command, when it is the same for every job.
    pub fn literal_program(&self) -> Option<&[u8]> {
        match &self.shape {
            Shape::Direct(words) => match words.first()?.0.as_slice() {
                [Piece::Literal(name)] => Some(name),
                _ => None,
            },
            _ => None,
        }
    }

    /// The command's first word, when it is the same for every job: the program of a
    /// command of words, or the leading word of a shell line.
    pub fn first_word(&self) -> Option<&[u8]> {
        match &self.shape {
            Shape::Direct(_) => self.literal_program(),
            Shape::Shell(line) => match line.pieces.first() {
                Some((Piece::Literal(text), _)) => {
                    let text = text.trim_ascii_start();
                    let end = text
                        .iter()
                        .position(|b| b.is_ascii_whitespace() || SHELL_SYNTAX.contains(b))
                        .unwrap_or(text.len());
                    (end > 0).then(|| &text[..end])
                }
                _ => None,
            },
            Shape::ItemsAreCommands => None,
        }
    }

    /// Whether the command uses `{##}` or `{0#}`, which need the number of jobs.
    pub fn needs_total(&self) -> bool {
        let pieces: Vec<&Piece> = match &self.shape {
            Shape::Direct(ws) => ws.iter().flat_map(|w| &w.0).collect(),
            Shape::Shell(line) => line.pieces.iter().map(|(p, _)| p).collect(),
            Shape::ItemsAreCommands => return false,
        };
        pieces.into_iter().any(Piece::needs_total)
    }

    /// Fills in `{##}`, and the widths of `{0#}` and `{0%}`, from the number of jobs and
    /// of slots.
    pub fn set_counts(&mut self, total: u64, slots: usize) {
        match &mut self.shape {
            Shape::Direct(ws) => ws
                .iter_mut()
                .flat_map(|w| &mut w.0)
                .for_each(|p| p.set_counts(total, slots)),
            Shape::Shell(line) => line
                .pieces
                .iter_mut()
                .for_each(|(p, _)| p.set_counts(total, slots)),
            Shape::ItemsAreCommands => {}
        }
    }

    /// Whether the command runs through a shell.
    pub fn is_shell(&self) -> bool {
        !matches!(self.shape, Shape::Direct(_))
    }

    /// Renders the command for one job.
    pub fn render(&self, job: JobContext<'_>) -> Rendered {
        match &self.shape {
            Shape::Direct(words) => {
                let mut argv = Vec::with_capacity(words.len() + job.values.len());
                for word in words {
                    if self.context_replace && repeats(word) {
                        for value in job.values {
                            let one = JobContext {
                                values: std::slice::from_ref(value),
                                ..job
                            };
                            render_word_into_argv(word, one, &mut argv);
                        }
                    } else {
                        render_word_into_argv(word, job, &mut argv);
                    }
                }
                if !self.uses_items {
                    argv.extend(job.values.iter().map(|v| OsString::from_vec(v.clone())));
                }
                Rendered::Argv(argv)
            }
            Shape::Shell(line) => Rendered::ShellLine(line.render(job, !self.uses_items)),
            Shape::ItemsAreCommands => Rendered::ShellLine(job.values.join(&b' ')),
        }
    }
}

impl Rendered {
    /// Appends the command as one line that can be pasted into a POSIX shell.
    pub fn display_line_into(&self, out: &mut Vec<u8>) {
        match self {
            Rendered::ShellLine(line) => out.extend_from_slice(line),
            Rendered::Argv(argv) => {
                for (i, arg) in argv.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    quote_into(arg.as_bytes(), out);
                }
            }
        }
    }
}

/// `--tag`/`--tagstring`: a string rendered with the job's raw values, no quoting.
#[derive(Debug, Clone)]
pub struct TagTemplate {
    word: Word,
    /// `--tagstring`'s text and options, to parse again with column names.
    source: Option<std::sync::Arc<Source>>,
}

impl TagTemplate {
    /// `--tag`: the job's values, joined by spaces.
    pub fn values() -> Self {
        TagTemplate {
            word: Word(vec![Piece::Replace(Value::All, Transform::Whole)]),
            source: None,
        }
    }

    /// `--tagstring STR`: the command's replacement strings (with `plus`, `--plus`'s too),
    /// and `{host}`.
    pub fn parse(s: &[u8], replace: Option<&[u8]>, plus: bool) -> Result<Self, TemplateError> {
        let word = parse_word(s, replace, Syntax { tag: true, plus })?;
        let source = Source {
            words: vec![OsString::from_vec(s.to_vec())],
            replace: replace.map(<[u8]>::to_vec),
            force_shell: false,
            never_shell: true,
            plus,
        };
        Ok(TagTemplate {
            word,
            source: Some(std::sync::Arc::new(source)),
        })
    }

    /// As [`Template::needs_total`].
    pub fn needs_total(&self) -> bool {
        self.word.0.iter().any(Piece::needs_total)
    }

    /// As [`Template::set_counts`].
    pub fn set_counts(&mut self, total: u64, slots: usize) {
        self.word
            .0
            .iter_mut()
            .for_each(|p| p.set_counts(total, slots));
    }

    pub fn render_into(&self, job: JobContext<'_>, out: &mut Vec<u8>) {
        for piece in &self.word.0 {
            render_piece(piece, job, out, append_raw);
        }
    }
}

impl Piece {
    fn needs_total(&self) -> bool {
        matches!(
            self,
            Piece::Replace(Value::Total(_) | Value::SeqPadded(_), _)
        )
    }

    fn set_counts(&mut self, total: u64, slots: usize) {
        match self {
            Piece::Replace(Value::Total(n), _) => *n = total,
            Piece::Replace(Value::SeqPadded(w), _) => *w = plus::width(total),
            Piece::Replace(Value::SlotPadded(w), _) => *w = plus::width(slots as u64),
            _ => {}
        }
    }
}

fn needs_shell(word: &[u8]) -> bool {
    word.iter()
        .any(|b| b.is_ascii_whitespace() || SHELL_SYNTAX.contains(b))
}

fn append_raw(value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(value);
}

/// `-X`: whether `word` is repeated per value: it has `{}` (or a form of it) among other
/// text. A whole-word `{}` already gives one argument per value.
fn repeats(word: &Word) -> bool {
    word.0.len() > 1
        && word
            .0
            .iter()
            .any(|p| matches!(p, Piece::Replace(Value::All, _)))
}

fn render_word_into_argv(word: &Word, job: JobContext<'_>, argv: &mut Vec<OsString>) {
    // A whole-word `{}` (or `{.}`, …) gives one argument per value.
    if let [Piece::Replace(Value::All, t)] = word.0.as_slice() {
        argv.extend(
            job.values
                .iter()
                .map(|v| OsString::from_vec(transform(v, t).into_owned())),
        );
        return;
    }
    let mut out = Vec::new();
    for piece in &word.0 {
        render_piece(piece, job, &mut out, append_raw);
    }
    argv.push(OsString::from_vec(out));
}

fn render_piece(
    piece: &Piece,
    job: JobContext<'_>,
    out: &mut Vec<u8>,
    emit: impl Fn(&[u8], &mut Vec<u8>),
) {
    match piece {
        Piece::Literal(bytes) => out.extend_from_slice(bytes),
        Piece::Replace(Value::All, t) => {
            for (i, v) in job.values.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                emit(&transform(v, t), out);
            }
        }
        Piece::Replace(Value::Nth(n), t) => {
            let v = job.values.get(n - 1).map(Vec::as_slice).unwrap_or(b"");
            emit(&transform(v, t), out);
        }
        Piece::Replace(Value::Seq, _) => out.extend_from_slice(job.seq.to_string().as_bytes()),
        Piece::Replace(Value::Slot, _) => out.extend_from_slice(job.slot.to_string().as_bytes()),
        Piece::Replace(Value::Host, _) => emit(job.host.as_bytes(), out),
        Piece::Replace(Value::Total(n), _) => out.extend_from_slice(n.to_string().as_bytes()),
        Piece::Replace(Value::SeqPadded(width), _) => {
            out.extend_from_slice(format!("{:0width$}", job.seq).as_bytes());
        }
        Piece::Replace(Value::SlotPadded(width), _) => {
            out.extend_from_slice(format!("{:0width$}", job.slot).as_bytes());
        }
    }
}

/// Turns an OS string into bytes for display in messages.
pub fn display(s: &OsStr) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

#[cfg(test)]
mod tests;
