//! Tests of command templates: parsing, rendering and the value transforms.

use super::*;

fn words(ws: &[&str]) -> Vec<OsString> {
    ws.iter().map(OsString::from).collect()
}

fn render(ws: &[&str], values: &[&[u8]]) -> Rendered {
    let values: Vec<Vec<u8>> = values.iter().map(|v| v.to_vec()).collect();
    Template::parse(&words(ws), None, false)
        .unwrap()
        .render(JobContext {
            values: &values,
            seq: 7,
            slot: 2,
            host: ":",
        })
}

fn argv(ws: &[&str], values: &[&[u8]]) -> Vec<String> {
    match render(ws, values) {
        Rendered::Argv(a) => a.iter().map(|s| display(s)).collect(),
        other => panic!("expected argv, got {other:?}"),
    }
}

#[test]
fn transforms_follow_gnu_parallel() {
    assert_eq!(*transform(b"a/b.c.d", &Transform::NoExt), b"a/b.c"[..]);
    assert_eq!(*transform(b"a.d/b", &Transform::NoExt), b"a.d/b"[..]);
    assert_eq!(
        *transform(b"dir/.bashrc", &Transform::NoExt),
        b"dir/.bashrc"[..]
    );
    assert_eq!(*transform(b"a/b.c", &Transform::Basename), b"b.c"[..]);
    assert_eq!(*transform(b"a/b.c", &Transform::Dirname), b"a"[..]);
    assert_eq!(*transform(b"b.c", &Transform::Dirname), b"."[..]);
    assert_eq!(*transform(b"/b.c", &Transform::Dirname), b"/"[..]);
    assert_eq!(*transform(b"x/y/b.c", &Transform::BasenameNoExt), b"b"[..]);
}

#[test]
fn whole_word_braces_expand_to_one_argument_per_value() {
    assert_eq!(argv(&["echo", "{}"], &[b"a", b"b c"]), ["echo", "a", "b c"]);
    assert_eq!(argv(&["echo", "x{}y"], &[b"a", b"b"]), ["echo", "xa by"]);
    assert_eq!(argv(&["echo", "{2}-{1}"], &[b"a", b"b"]), ["echo", "b-a"]);
    assert_eq!(argv(&["echo", "{3}"], &[b"a"]), ["echo", ""]);
}

#[test]
fn values_are_appended_when_no_replacement_string() {
    assert_eq!(argv(&["echo", "{#}", "{%}"], &[b"a"]), ["echo", "7", "2"]);
    assert_eq!(argv(&["echo", "x"], &[b"a", b"b"]), ["echo", "x", "a", "b"]);
    assert_eq!(argv(&["echo"], &[b""]), ["echo", ""]);
}

#[test]
fn shell_lines_quote_every_value() {
    let r = render(&["echo {} | wc"], &[b"$(reboot)"]);
    assert_eq!(r, Rendered::ShellLine(b"echo '$(reboot)' | wc".to_vec()));
    let r = render(&["echo"], &[]);
    assert!(matches!(r, Rendered::Argv(_)));
}

#[test]
fn shell_lines_quote_values_for_the_quotes_they_stand_in() {
    let line = |ws: &[&str], values: &[&[u8]]| match render(ws, values) {
        Rendered::ShellLine(l) => String::from_utf8(l).unwrap(),
        other => panic!("expected a shell line, got {other:?}"),
    };
    assert_eq!(line(&[r#"echo "{}""#], &[b"$x"]), r#"echo "\$x""#);
    assert_eq!(line(&["echo '{}'"], &[b"it's"]), r"echo '''it'\''s'''");
    assert_eq!(
        line(&[r#"echo "{}" {}"#], &[b"a", b"b c"]),
        r#"echo "a b c" a 'b c'"#
    );
    assert_eq!(
        line(&["echo '{1}-{2}'"], &[b"a", b"b"]),
        "echo '''a''-''b'''"
    );
    assert_eq!(line(&[r#"echo "{#}" \{}"#], &[b"a"]), r#"echo "7" \\a"#);
    assert_eq!(line(&[r#"echo "x""#], &[b"$y"]), r#"echo "x" '$y'"#);
    assert_eq!(line(&[r#"echo "x"#], &[b"$y"]), r#"echo "x \$y"#);
    // A here-document is not followed: values are quoted as words, as before.
    assert_eq!(
        line(&["cat <<E\n'{}\nE\necho \"{}\""], &[b"a b"]),
        "cat <<E\n''a b'\nE\necho \"'a b'\""
    );
}

#[test]
fn unknown_braces_are_literal_and_unclosed_ones_are_errors() {
    assert_eq!(
        argv(&["awk", "{print $1}", "{}"], &[b"f"]),
        ["awk", "{print $1}", "f"]
    );
    assert!(matches!(
        Template::parse(&words(&["echo", "{"]), None, false),
        Err(TemplateError::Unclosed(_))
    ));
    assert!(matches!(
        Template::parse(&words(&["echo", "{1"]), None, false),
        Err(TemplateError::Unclosed(_))
    ));
    assert!(matches!(
        Template::parse(&words(&["echo", "{0}"]), None, false),
        Err(TemplateError::IndexZero(_))
    ));
}

#[test]
fn dash_i_renames_the_braces() {
    let t = Template::parse(&words(&["mv", "%", "%.bak", "{}"]), Some(b"%"), false).unwrap();
    let values = vec![b"f".to_vec()];
    let r = t.render(JobContext {
        values: &values,
        seq: 1,
        slot: 1,
        host: ":",
    });
    assert_eq!(r, Rendered::Argv(words(&["mv", "f", "f.bak", "{}"])));
}
