//! Named columns (`--header` for items): `{name}` and its path forms `{name.}`, `{name/}`,
//! `{name//}`, `{name/.}` stand for the column the header names, as in GNU parallel.
//!
//! The names are known only once the input's headers are read, after the command was
//! parsed (and checked) in `config`. So the command is parsed again then, with each
//! `{name…}` first rewritten as `{N…}` (as GNU parallel rewrites the command's text):
//! where a replacement string stands in a shell line, and how it is quoted there, is
//! then found exactly as for `{N}`.

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use super::parse::{Syntax, parse_replacement, parse_word};
use super::{TagTemplate, Template, TemplateError};

/// The path forms GNU parallel gives a named column, longest first.
const SUFFIXES: [&[u8]; 4] = [b"/.", b"//", b"/", b"."];

/// Column names and the number of the column each names.
#[derive(Debug, Clone, Default)]
pub struct ColumnNames {
    /// In the order of the columns; where a name is given twice, the first counts.
    names: Vec<(Vec<u8>, usize)>,
}

impl ColumnNames {
    /// The names of each source's columns, in the order of the sources: the columns of all
    /// sources are numbered one after another, as `--colsep` numbers them. An empty name
    /// names nothing.
    pub fn new(headers: &[Vec<Vec<u8>>]) -> Self {
        let names = headers
            .iter()
            .flatten()
            .enumerate()
            .filter(|(_, name)| !name.is_empty())
            .map(|(i, name)| (name.clone(), i + 1))
            .collect();
        ColumnNames { names }
    }

    fn column(&self, name: &[u8]) -> Option<usize> {
        self.names.iter().find(|(n, _)| n == name).map(|&(_, i)| i)
    }

    /// The column `inner` (what stands between braces) refers to, and its path form.
    fn lookup<'a>(&self, inner: &'a [u8]) -> Option<(usize, &'a [u8])> {
        if let Some(n) = self.column(inner) {
            return Some((n, b""));
        }
        SUFFIXES.iter().find_map(|suffix| {
            let name = inner.strip_suffix(*suffix)?;
            self.column(name).map(|n| (n, *suffix))
        })
    }

    /// `text` with each `{name…}` that names a column replaced by `{N…}`. A replacement
    /// string of pmap's own (`{1}`, `{#}`, `{.}`, …) keeps its meaning even if a column
    /// has that name; an unknown `{name}` stays as it is, as text.
    pub(super) fn rewrite(&self, text: &[u8], replace: Option<&[u8]>, syntax: Syntax) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.iter().position(|&b| b == b'{') {
            out.extend_from_slice(&rest[..=open]);
            rest = &rest[open + 1..];
            let Some(close) = rest.iter().position(|&b| b == b'}') else {
                break;
            };
            let inner = &rest[..close];
            let own = matches!(
                parse_replacement(inner, replace.is_some(), syntax),
                Ok(Some(_))
            );
            if let Some((n, suffix)) = self.lookup(inner).filter(|_| !own) {
                out.extend_from_slice(n.to_string().as_bytes());
                out.extend_from_slice(suffix);
                out.push(b'}');
                rest = &rest[close + 1..];
            }
        }
        out.extend_from_slice(rest);
        out
    }
}

impl Template {
    /// Parses the command again with the columns' names (`--header`).
    pub fn resolve_names(&mut self, names: &ColumnNames) -> Result<(), TemplateError> {
        let repeat = self.context_replace;
        *self = Template::from_source(Arc::clone(&self.source), Some(names))?;
        if repeat {
            self.repeat_words_per_value();
        }
        Ok(())
    }
}

impl TagTemplate {
    /// Parses `--tagstring` again with the columns' names (`--header`).
    pub fn resolve_names(&mut self, names: &ColumnNames) -> Result<(), TemplateError> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        let syntax = Syntax {
            tag: true,
            plus: source.plus,
        };
        let replace = source.replace.as_deref();
        let text = source.words.first().map_or(&b""[..], |w| w.as_bytes());
        self.word = parse_word(&names.rewrite(text, replace, syntax), replace, syntax)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(headers: &[&[&str]]) -> ColumnNames {
        let headers: Vec<Vec<Vec<u8>>> = headers
            .iter()
            .map(|h| h.iter().map(|n| n.as_bytes().to_vec()).collect())
            .collect();
        ColumnNames::new(&headers)
    }

    fn rewrite(names: &ColumnNames, text: &str) -> String {
        let syntax = Syntax {
            tag: false,
            plus: false,
        };
        String::from_utf8(names.rewrite(text.as_bytes(), None, syntax)).unwrap()
    }

    #[test]
    fn names_become_column_numbers_across_sources() {
        let n = names(&[&["a", "b"], &["c", "a", ""], &["d"]]);
        assert_eq!(rewrite(&n, "{a}-{b}-{c}-{d}"), "{1}-{2}-{3}-{6}");
        assert_eq!(rewrite(&n, "{a.}{b/}{c//}{d/.}"), "{1.}{2/}{3//}{6/.}");
        assert_eq!(rewrite(&n, "{foo} {a..} {a} {"), "{foo} {a..} {1} {");
        assert_eq!(rewrite(&n, "x{{a}}y"), "x{{1}}y");
    }

    #[test]
    fn pmaps_own_replacement_strings_win_over_names() {
        let n = names(&[&["1", "#", "%", ".", "x.y", "x"]]);
        assert_eq!(
            rewrite(&n, "{1} {#} {%} {.} {x.y} {x.}"),
            "{1} {#} {%} {.} {5} {6.}"
        );
    }
}
