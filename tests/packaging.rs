//! How pmap is packaged: the crates.io package is `pmap-cli`, the command it installs is
//! `pmap`, and `pmap --version` names the command (procps's `pmap` says
//! `pmap from procps-ng ...`, so this line is how a user tells the two apart).

mod common;

#[test]
fn version_names_the_command_not_the_package() {
    assert_eq!(env!("CARGO_PKG_NAME"), "pmap-cli");
    let expected = format!("pmap {}\n", env!("CARGO_PKG_VERSION"));
    for flag in ["--version", "-V"] {
        common::run([flag], "").ok(expected.as_bytes());
    }
}
