//! sops's command-line spellings (issue 16): the pre-3.9 style (`-e`, `-d`, `-i`, `--set`,
//! `--extract`, `--output-type` without a verb), standard input when no file is given,
//! `encrypt --output-type`, `decrypt --ignore-mac`, `-a`, `SOPS_CONFIG` and a global
//! `--config`, several identities on one line of `SOPS_AGE_KEY`, `--verbose`, `--indent`.
//! Where the real sops runs, its output is the reference: same stdout for a decrypt of the
//! same file, and sops reads what sealed writes.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{Run, SANDBOX_SECRET, Sandbox, peer};

/// A document in sops's own YAML layout (4-space indentation, no comments), so that sops's
/// re-emitted output and sealed's byte-exact output are the same text.
const PLAIN: &str = "a: 1\nb:\n    c: s3cr3t-Value-4217\n";

/// The real sops in the sandbox, finding only the sandbox's key.
fn sops(sb: &Sandbox, args: &[&str]) -> Option<Run> {
    let bin = peer("sops")?;
    let out = Command::new(bin)
        .current_dir(sb.dir.path())
        .env_clear()
        .env("PATH", common::path_var())
        .env("HOME", sb.dir.path())
        .env("SOPS_AGE_KEY_FILE", sb.path("key.txt"))
        .args(args)
        .output()
        .expect("run sops");
    Some(Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8(out.stderr).expect("utf-8"),
    })
}

/// sealed with `stdin` on its standard input.
fn sealed_stdin(sb: &Sandbox, args: &[&str], stdin: &str) -> Run {
    let mut child = sb
        .sealed()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sealed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8"),
        stderr: String::from_utf8(out.stderr).expect("utf-8"),
    }
}

fn write(sb: &Sandbox, name: &str, text: &str) {
    std::fs::write(sb.path(name), text).expect("write");
}

/// `sealed -e -a R FILE` (the pre-3.9 spelling) writes what sops decrypts; `sealed -d FILE`
/// prints what `sops -d FILE` prints.
#[test]
fn dash_e_and_dash_d_match_sops() {
    let sb = Sandbox::new();
    write(&sb, "s.yaml", PLAIN);
    let enc = sb.run(&["-e", "-a", &sb.recipient, "s.yaml"]).ok();
    assert!(enc.contains("ENC[AES256_GCM,"), "not encrypted");
    assert!(!enc.contains(SANDBOX_SECRET));
    write(&sb, "e.yaml", &enc);
    assert_eq!(sb.run(&["-d", "e.yaml"]).ok(), PLAIN);
    assert_eq!(sb.run(&["--decrypt", "e.yaml"]).ok(), PLAIN);
    if let Some(run) = sops(&sb, &["-d", "e.yaml"]) {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(run.stdout, PLAIN);
    }
}

/// `sealed -e -i FILE` then `sealed -d -i FILE`: encrypted in place (sops reads it), then
/// the original bytes back.
#[test]
fn dash_i_with_e_and_d() {
    let sb = Sandbox::new();
    let plain = "# kept\nkey: s3cr3t-Value-4217   # and this\n";
    write(&sb, "s.yaml", plain);
    assert_eq!(
        sb.run(&["-e", "-i", "-a", &sb.recipient, "s.yaml"]).ok(),
        ""
    );
    let enc = std::fs::read_to_string(sb.path("s.yaml")).expect("read");
    assert!(!enc.contains(SANDBOX_SECRET), "not encrypted in place");
    if let Some(run) = sops(&sb, &["-d", "--extract", "[\"key\"]", "s.yaml"]) {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(run.stdout, SANDBOX_SECRET);
    }
    assert_eq!(sb.run(&["-d", "-i", "s.yaml"]).ok(), "");
    assert_eq!(std::fs::read_to_string(sb.path("s.yaml")).unwrap(), plain);
}

/// `sealed --set '["b"]["c"] "value"' FILE` changes the file in place, as sops does.
#[test]
fn dash_dash_set_in_place() {
    let sb = Sandbox::new();
    sb.encrypt("e.yaml", PLAIN);
    assert_eq!(
        sb.run(&["--set", "[\"b\"][\"c\"] \"new] value\"", "e.yaml"])
            .ok(),
        ""
    );
    assert_eq!(
        sb.run(&["-d", "--extract", "[\"b\"][\"c\"]", "e.yaml"])
            .ok(),
        "new] value"
    );
    if let Some(run) = sops(&sb, &["decrypt", "--extract", "[\"b\"][\"c\"]", "e.yaml"]) {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(run.stdout, "new] value");
    }
    // No value after the path: sops's message and exit code (InvalidSetFormat, 7).
    let run = sb.run(&["--set", "[\"b\"]", "e.yaml"]);
    run.fails(7, "invalid --set format");
}

/// `set --output-type yaml` on a JSON file writes it back as encrypted YAML (sops reads
/// it); with `--idempotent` and an unchanged value the file is left as it is.
#[test]
fn set_output_type() {
    let sb = Sandbox::new();
    let path = sb.encrypt("e.json", "{\"a\": 2, \"b\": \"ba\"}");
    let before = std::fs::read_to_string(&path).unwrap();
    let idem = [
        "set",
        "--output-type",
        "yaml",
        "--idempotent",
        "e.json",
        "[\"b\"]",
        "\"ba\"",
    ];
    assert_eq!(sb.run(&idem).ok(), "");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert_eq!(
        sb.run(&[
            "set",
            "--output-type",
            "yaml",
            "e.json",
            "[\"b\"]",
            "\"ba\""
        ])
        .ok(),
        ""
    );
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.starts_with("a: "), "not YAML: {after}");
    let args = [
        "decrypt",
        "--input-type",
        "yaml",
        "--output-type",
        "yaml",
        "e.json",
    ];
    assert_eq!(sb.run(&args).ok(), "a: 2\nb: ba\n");
    if let Some(run) = sops(&sb, &args) {
        assert_eq!(run.stdout, "a: 2\nb: ba\n", "{}", run.stderr);
    }
    // The pre-3.9 spelling: --set with --output-type.
    let path = sb.encrypt("f.json", "{\"a\": 2}");
    let set = ["--output-type", "yaml", "--set", "[\"a\"] 3", "f.json"];
    assert_eq!(sb.run(&set).ok(), "");
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("a: "));
    assert_eq!(
        sb.run(&["-d", "--input-type", "yaml", "f.json"]).ok(),
        "a: 3\n"
    );
}

/// `--extract` and `--output-type` without a verb print what sops prints.
#[test]
fn extract_and_output_type_at_top_level_match_sops() {
    let sb = Sandbox::new();
    sb.encrypt("e.yaml", PLAIN);
    let cases: [&[&str]; 3] = [
        &["-d", "--extract", "[\"b\"][\"c\"]", "e.yaml"],
        &["-d", "--extract", "[\"b\"]", "e.yaml"],
        &["-d", "--output-type", "json", "e.yaml"],
    ];
    for args in cases {
        let ours = sb.run(args).ok();
        assert!(!ours.is_empty());
        if let Some(run) = sops(&sb, args) {
            assert_eq!(run.code, Some(0), "{}", run.stderr);
            assert_eq!(ours, run.stdout, "sealed and sops differ for {args:?}");
        }
    }
}

/// `encrypt` and `decrypt` read standard input when no file is given.
#[test]
fn standard_input_when_no_file_is_given() {
    let sb = Sandbox::new();
    let enc = sealed_stdin(
        &sb,
        &["encrypt", "-a", &sb.recipient, "--input-type", "yaml"],
        PLAIN,
    );
    assert_eq!(enc.code, Some(0), "{}", enc.stderr);
    assert!(!enc.stdout.contains(SANDBOX_SECRET));
    let dec = sealed_stdin(&sb, &["decrypt", "--input-type", "yaml"], &enc.stdout);
    assert_eq!(dec.code, Some(0), "{}", dec.stderr);
    assert_eq!(dec.stdout, PLAIN);
    write(&sb, "e.yaml", &enc.stdout);
    if let Some(run) = sops(&sb, &["decrypt", "e.yaml"]) {
        assert_eq!(run.stdout, PLAIN, "{}", run.stderr);
    }
}

/// `encrypt --output-type json` writes an encrypted JSON file sops decrypts to the same data.
#[test]
fn encrypt_output_type() {
    let sb = Sandbox::new();
    write(&sb, "s.yaml", PLAIN);
    let enc = sb
        .run(&[
            "encrypt",
            "-a",
            &sb.recipient,
            "--output-type",
            "json",
            "s.yaml",
        ])
        .ok();
    let value: serde_json::Value = serde_json::from_str(&enc).expect("JSON output");
    assert!(value["sops"]["age"].is_array(), "no sops metadata");
    write(&sb, "e.json", &enc);
    let expected = "{\n\t\"a\": 1,\n\t\"b\": {\n\t\t\"c\": \"s3cr3t-Value-4217\"\n\t}\n}\n";
    assert_eq!(sb.run(&["decrypt", "e.json"]).ok(), expected);
    if let Some(run) = sops(&sb, &["decrypt", "e.json"]) {
        assert_eq!(run.stdout, expected, "{}", run.stderr);
    }
    // The pre-3.9 spelling says the same.
    let legacy = sb
        .run(&["-e", "-a", &sb.recipient, "--output-type", "json", "s.yaml"])
        .ok();
    assert!(serde_json::from_str::<serde_json::Value>(&legacy).is_ok());
}

/// `decrypt --ignore-mac` prints a file whose MAC no longer matches, never silently: a
/// warning says the values are not authenticated and that the MAC does not match.
#[test]
fn ignore_mac_warns() {
    let sb = Sandbox::new();
    let path = sb.encrypt("e.yaml", "a: 1\nb_unencrypted: x\n");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("b_unencrypted: x", "b_unencrypted: y")).unwrap();
    sb.run(&["decrypt", "e.yaml"]).fails(51, "MAC mismatch");
    for args in [
        &["decrypt", "--ignore-mac", "e.yaml"][..],
        &["-d", "--ignore-mac", "e.yaml"][..],
    ] {
        let run = sb.run(args);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(run.stdout, "a: 1\nb_unencrypted: y\n");
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("not authenticated"), "{}", run.stderr);
        assert!(run.stderr.contains("DOES NOT MATCH"), "{}", run.stderr);
    }
    if let Some(run) = sops(
        &sb,
        &[
            "decrypt",
            "--ignore-mac",
            "--extract",
            "[\"b_unencrypted\"]",
            "e.yaml",
        ],
    ) {
        assert_eq!(run.stdout, "y", "{}", run.stderr);
    }
}

/// `SOPS_CONFIG` and a global `--config` name the `.sops.yaml` (no search upward).
#[test]
fn sops_config_and_global_config() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("cfg")).unwrap();
    write(
        &sb,
        "cfg/rules.yaml",
        &format!("creation_rules:\n  - age: {}\n", sb.recipient),
    );
    write(&sb, "s.yaml", PLAIN);
    // Without it, there is no rule.
    let none = sb.run(&["encrypt", "s.yaml"]);
    assert_ne!(none.code, Some(0));
    let by_env = sb
        .sealed()
        .env("SOPS_CONFIG", "cfg/rules.yaml")
        .args(["encrypt", "s.yaml"])
        .output()
        .unwrap();
    assert!(
        by_env.status.success(),
        "{}",
        String::from_utf8_lossy(&by_env.stderr)
    );
    let by_flag = sb
        .run(&["--config", "cfg/rules.yaml", "encrypt", "s.yaml"])
        .ok();
    let legacy = sb.run(&["--config", "cfg/rules.yaml", "-e", "s.yaml"]).ok();
    for enc in [String::from_utf8(by_env.stdout).unwrap(), by_flag, legacy] {
        write(&sb, "e.yaml", &enc);
        assert_eq!(sb.run(&["-d", "e.yaml"]).ok(), PLAIN);
        if let Some(run) = sops(&sb, &["-d", "e.yaml"]) {
            assert_eq!(run.stdout, PLAIN, "{}", run.stderr);
        }
    }
}

/// `updatekeys` reads the `.sops.yaml` that `SOPS_CONFIG` or a global `--config` names, as
/// sops does: a recipient added there can then decrypt.
#[test]
fn updatekeys_follows_sops_config() {
    let sb = Sandbox::new();
    let other = common::keygen_in(sb.dir.path(), "other.txt");
    std::fs::create_dir(sb.path("cfg")).unwrap();
    sb.encrypt("e.yaml", PLAIN);
    write(
        &sb,
        "cfg/rules.yaml",
        &format!(
            "creation_rules:\n  - age: {},{}\n",
            sb.recipient, other.public
        ),
    );
    let out = sb
        .sealed()
        .env("SOPS_CONFIG", "cfg/rules.yaml")
        .args(["updatekeys", "-y", "e.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dec = sb
        .sealed()
        .env("SOPS_AGE_KEY_FILE", &other.path)
        .args(["-d", "e.yaml"])
        .output()
        .unwrap();
    assert!(
        dec.status.success(),
        "{}",
        String::from_utf8_lossy(&dec.stderr)
    );
    assert_eq!(String::from_utf8(dec.stdout).unwrap(), PLAIN);
}

/// `SOPS_AGE_KEY` holds several identities on one line, separated by spaces (sops 3.12).
#[test]
fn sops_age_key_space_separated() {
    let sb = Sandbox::new();
    sb.encrypt("e.yaml", PLAIN);
    let other = common::keygen_in(sb.dir.path(), "other.txt");
    let secret_line = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap()
            .to_string()
    };
    let keys = format!(
        "{} {}",
        secret_line(&other.path),
        secret_line(&sb.path("key.txt"))
    );
    let out = sb
        .sealed()
        .env_remove("SOPS_AGE_KEY_FILE")
        .env("SOPS_AGE_KEY", keys)
        .args(["-d", "e.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), PLAIN);
}

/// `--verbose` is accepted; `--indent` is accepted and ignored, with one note on stderr
/// (sealed keeps bytes).
#[test]
fn verbose_and_indent_are_accepted() {
    let sb = Sandbox::new();
    sb.encrypt("e.yaml", PLAIN);
    assert_eq!(sb.run(&["--verbose", "decrypt", "e.yaml"]).ok(), PLAIN);
    assert_eq!(sb.run(&["--verbose", "-d", "e.yaml"]).ok(), PLAIN);
    for args in [
        &["--indent", "2", "decrypt", "e.yaml"][..],
        &["--indent", "2", "-d", "e.yaml"][..],
    ] {
        let run = sb.run(args);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(run.stdout, PLAIN);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains("--indent is ignored"), "{}", run.stderr);
    }
}

/// `sealed FILE` (no verb) opens FILE in the editor, as `sops FILE` does.
#[test]
fn a_file_alone_is_edited() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    sb.encrypt("e.yaml", PLAIN);
    let editor = sb.path("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/^a: 1$/a: 2/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = sb
        .sealed()
        .env("EDITOR", &editor)
        .env_remove("SOPS_EDITOR")
        .arg("e.yaml")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sb.run(&["-d", "e.yaml"]).ok(),
        PLAIN.replace("a: 1", "a: 2")
    );
}

/// sops's exit code when no file is given to `-d` (NoFileSpecified, 100).
#[test]
fn no_file_specified() {
    let sb = Sandbox::new();
    sb.run(&["-d"]).fails(100, "no file specified");
}
