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

/// The files `cargo package` would put in the crate, as `cargo package --list` prints them
/// (`--allow-dirty`: uncommitted edits change what is packaged, not what this checks).
fn packaged_files() -> Vec<String> {
    let cargo =
        std::path::PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let out = std::process::Command::new(&cargo)
        .args([
            "package",
            "--list",
            "--locked",
            "--offline",
            "--allow-dirty",
            "--quiet",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cargo.display()));
    assert!(
        out.status.success(),
        "cargo package --list failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_package_holds_licenses_docs_and_completions_but_no_bench_files() {
    let files = packaged_files();
    for needed in [
        "Cargo.lock",
        "LICENSE-APACHE",
        "LICENSE-MIT",
        "README.md",
        "docs/guide.md",
        "docs/pmap.1",
        "completions/pmap.bash",
        "src/main.rs",
        "tests/generated.rs",
    ] {
        assert!(
            files.iter().any(|f| f == needed),
            "{needed} missing: {files:?}"
        );
    }
    for file in &files {
        assert!(
            !(file.starts_with("bench/")
                || file.starts_with("target/")
                || file.starts_with(".ci/")),
            "{file} is packaged"
        );
    }
}
