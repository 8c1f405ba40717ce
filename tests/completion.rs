//! `sealed completion SHELL` and `sealed man`: generated from the parser's own definition,
//! so they name every subcommand and flag the binary accepts.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::sealed;

/// The subcommands every generated artefact must name (one per family of verbs).
const SUBCOMMANDS: &[&str] = &[
    "init",
    "encrypt",
    "decrypt",
    "exec",
    "keygen",
    "git",
    "team",
    "updatekeys",
    "rotate",
    "edit",
    "set",
    "unset",
    "completion",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let out = sealed().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "sealed {args:?}: exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `program args` with `input` on stdin; its exit status and stdout.
fn pipe(program: &str, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .env("MANWIDTH", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn bash_completion_is_valid_bash_and_names_the_subcommands() {
    let script = stdout_of(&["completion", "bash"]);
    let (ok, _, err) = pipe("bash", &["-n"], &script);
    assert!(ok, "bash -n rejects the completion script: {err}");
    assert!(script.contains("complete -F"), "no `complete` registration");
    for sub in SUBCOMMANDS {
        assert!(
            script.contains(&format!("sealed,{sub})")),
            "the bash completion does not name `{sub}`"
        );
    }
    // Nested verbs and flags are completed too.
    assert!(script.contains("sealed__subcmd__git,status)"));
    assert!(script.contains("--in-place"));
}

#[test]
fn every_shell_gets_a_script_and_others_are_refused() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completion", shell]);
        assert!(
            script.contains("sealed") && script.contains("encrypt"),
            "the {shell} script does not complete sealed's subcommands"
        );
    }
    if installed("fish") {
        let (ok, _, err) = pipe("fish", &["-n"], &stdout_of(&["completion", "fish"]));
        assert!(ok, "fish -n rejects the completion script: {err}");
    }
    let out = sealed().args(["completion", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: bash"));
}

#[test]
fn man_prints_a_roff_page_naming_the_subcommands() {
    let page = stdout_of(&["man"]);
    // Only roff requests (the quote-string preamble) come before the title header.
    let th = page
        .lines()
        .position(|l| l.starts_with(".TH "))
        .expect("no .TH header");
    assert!(page.lines().take(th).all(|l| l.starts_with('.')));
    assert!(page.lines().nth(th).unwrap().starts_with(".TH sealed 1 "));
    assert!(page.contains(".SH SYNOPSIS") && page.contains(".SH SUBCOMMANDS"));
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("sealed\\-{sub}(1)")),
            "the man page does not name `{sub}`"
        );
    }
    assert!(
        !page.contains("sealed\\-help(1)"),
        "clap's help verb listed"
    );
    if installed("man") {
        let (ok, text, err) = pipe("man", &["-l", "-"], &page);
        assert!(ok, "man -l - rejects the page: {err}");
        assert!(text.contains("SUBCOMMANDS") && text.contains("sealed-encrypt(1)"));
    }
}

#[test]
fn man_prints_the_page_of_a_subcommand_it_lists() {
    let page = stdout_of(&["man", "encrypt"]);
    assert!(page.contains(".TH sealed-encrypt 1 "));
    assert!(page.contains("in\\-place"), "encrypt's options are missing");
    let nested = stdout_of(&["man", "git", "status"]);
    assert!(nested.contains(".TH sealed-git-status 1 "));

    for args in [
        &["man", "nope"][..],
        &["man", "git", "nope"],
        &["man", "help"],
    ] {
        let out = sealed().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("no manual page for sealed") && err.contains("`sealed man`"));
    }
}
