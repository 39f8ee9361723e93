//! `{= s/REGEX/REPLACEMENT/[gi] =}` and `{=N … =}` (or `{N= … =}`): the common form of
//! GNU parallel's Perl expressions, a substitution on the value, done with the `regex` crate
//! (Rust's regex syntax; `$1`, `${name}` in the replacement). Any other Perl is a usage error that says
//! what is supported.

use std::borrow::Cow;

use regex::bytes::{Regex, RegexBuilder};

/// One parsed substitution.
#[derive(Debug, Clone)]
pub struct Substitution {
    re: Regex,
    replacement: Vec<u8>,
    global: bool,
    /// The expression as written, for equality and messages.
    text: String,
}

impl PartialEq for Substitution {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Substitution {}

/// What pmap understands between `{=` and `=}`.
pub const SUPPORTED: &str = "s/REGEX/REPLACEMENT/ with the flags g and i (any delimiter \
                             after the s)";

impl Substitution {
    /// Parses `s/RE/REPL/FLAGS` (surrounding blanks ignored, any delimiter after `s`).
    pub fn parse(expression: &str) -> Result<Self, String> {
        let text = expression.trim();
        let unsupported = || format!("'{{={text}=}}': pmap supports only {SUPPORTED}");
        let rest = text.strip_prefix('s').ok_or_else(unsupported)?;
        let delimiter = rest
            .chars()
            .next()
            .filter(|c| !c.is_alphanumeric() && !c.is_whitespace());
        let delimiter = delimiter.ok_or_else(unsupported)?;
        let parts: Vec<&str> = split_unescaped(&rest[delimiter.len_utf8()..], delimiter);
        let [pattern, replacement, flags] = parts[..] else {
            return Err(unsupported());
        };
        if !flags.chars().all(|f| f == 'g' || f == 'i') {
            return Err(unsupported());
        }
        let re = RegexBuilder::new(pattern)
            .case_insensitive(flags.contains('i'))
            .build()
            .map_err(|e| {
                let why = e.to_string();
                let last = why.lines().last().unwrap_or_default().trim();
                let last = last.strip_prefix("error: ").unwrap_or(last);
                format!("'{{={text}=}}': invalid regex: {last}")
            })?;
        Ok(Substitution {
            re,
            replacement: replacement.as_bytes().to_vec(),
            global: flags.contains('g'),
            text: text.to_string(),
        })
    }

    /// `value` with the first match (every match with `g`) replaced.
    pub fn apply<'a>(&self, value: &'a [u8]) -> Cow<'a, [u8]> {
        let limit = if self.global { 0 } else { 1 };
        self.re.replacen(value, limit, self.replacement.as_slice())
    }
}

/// `text` split at every `delimiter` not preceded by a backslash (which then goes); a
/// backslash before anything else stays, for the regex.
fn split_unescaped(text: &str, delimiter: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == delimiter {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(expression: &str, value: &str) -> String {
        let s = Substitution::parse(expression).unwrap();
        String::from_utf8(s.apply(value.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn substitutions_as_perl_writes_them() {
        assert_eq!(sub(r" s/\.gz$// ", "b.tar.gz"), "b.tar");
        assert_eq!(sub("s/a/x/", "banana"), "bxnana");
        assert_eq!(sub("s/a/x/g", "banana"), "bxnxnx");
        assert_eq!(sub("s/A/x/gi", "banana"), "bxnxnx");
        assert_eq!(sub(r"s/(\w+)-(\w+)/$2-$1/", "ab-cd"), "cd-ab");
        assert_eq!(sub("s|/|_|g", "a/b/c"), "a_b_c");
    }

    #[test]
    fn anything_else_says_what_is_supported() {
        for bad in ["$_ .= 'x'", "s/a/b", "s/a/b/x", "tr/a/b/", "s/(/x/"] {
            let e = Substitution::parse(bad).unwrap_err();
            assert!(
                e.contains("supports only") || e.contains("invalid regex"),
                "{bad}: {e}"
            );
        }
    }
}
