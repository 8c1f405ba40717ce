//! Issue 13, point 10 (format): what sealed writes is read as the same data by the real
//! `sops` 3.11 and by YAML 1.1 readers, and sops's own files are read as sops reads them.
//!
//! - YAML strings that a YAML 1.1 or 1.2 reader types (`10:00` is the integer 600 for
//!   PyYAML and go-yaml v2, `y` a boolean, `0o17` an integer…) are written quoted by
//!   `decrypt`, `set` and `--output-type yaml`, as sops itself writes them;
//! - numbers beyond a 64-bit float (`1e400`): a string in YAML as for sops, refused in JSON
//!   as sops refuses them;
//! - YAML 1.1 line breaks (U+0085, U+2028, U+2029) in YAML text;
//! - .env files sops encrypts (empty, only comments, `=x`, invalid UTF-8);
//! - YAML streams with empty documents.
//!
//! Each test runs the real binary, and sops where the behaviour concerns it (skipped, or a
//! failure under `SEALED_REQUIRE_PEERS=1`, when sops is not installed).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{Key, demo_key, first_line, peer, tempdir};
use tempfile::TempDir;

/// A temporary directory with the demo key, sealed, and the real sops when installed.
struct Lab {
    dir: TempDir,
    key: Key,
    sops: Option<PathBuf>,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempdir();
        let key = demo_key(dir.path());
        Lab {
            dir,
            key,
            sops: None,
        }
    }

    /// A lab with sops, or `None` (the test is skipped) when sops is not installed.
    fn with_sops() -> Option<Lab> {
        let sops = peer("sops")?;
        Some(Lab {
            sops: Some(sops),
            ..Lab::new()
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).expect("write file");
        p
    }

    fn sealed(&self, args: &[&str]) -> Output {
        Command::new(common::bin())
            .env_clear()
            .env("PATH", common::path_var())
            .env("HOME", common::empty_home())
            .env("SOPS_AGE_KEY_FILE", &self.key.path)
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .expect("run sealed")
    }

    fn sops(&self, args: &[&str]) -> Output {
        Command::new(self.sops.as_ref().expect("a lab with sops"))
            .env_clear()
            .env("PATH", common::path_var())
            .env("HOME", common::empty_home())
            .env("SOPS_AGE_KEY_FILE", &self.key.path)
            .env("SOPS_AGE_RECIPIENTS", &self.key.public)
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .expect("run sops")
    }

    /// `sealed encrypt NAME` into `out`; panics when sealed refuses.
    fn sealed_encrypt(&self, name: &str, out: &str) -> PathBuf {
        let o = self.sealed(&["encrypt", "--age", &self.key.public, name, "-o", out]);
        assert!(
            o.status.success(),
            "sealed encrypt {name}: {}",
            first_line(&o.stderr)
        );
        self.path(out)
    }

    /// `sops encrypt NAME` (type from the extension) into `out`.
    fn sops_encrypt(&self, name: &str, out: &str) -> PathBuf {
        let o = self.sops(&["encrypt", name]);
        assert!(
            o.status.success(),
            "sops encrypt {name}: {}",
            first_line(&o.stderr)
        );
        self.write(out, o.stdout)
    }
}

fn ok(o: &Output, what: &str) -> Vec<u8> {
    assert!(
        o.status.success(),
        "{what} failed ({:?}): {}",
        o.status.code(),
        first_line(&o.stderr)
    );
    o.stdout.clone()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8 output")
}

/// Strings YAML 1.1 readers (PyYAML, go-yaml v2, SnakeYAML) type as something else, with
/// what they read: none may be written as a plain scalar.
const YAML11_TYPED: &[&str] = &[
    "10:00",
    "1:30",
    "10:00:00",
    "190:20:30.15",
    "y",
    "Y",
    "n",
    "N",
    "yes",
    "No",
    "ON",
    "off",
    "0o17",
    "017",
    "0x1F",
    "0b1",
    "1_000",
    ".inf",
    ".NaN",
    "~",
    "<<",
    "=",
    "2001-12-14",
    "2001-12-14 21:59:43.10 -5",
];

/// A YAML document holding every [`YAML11_TYPED`] string as a double-quoted value.
fn yaml11_document() -> String {
    YAML11_TYPED
        .iter()
        .enumerate()
        .map(|(i, s)| format!("k{i}: \"{s}\"\n"))
        .collect()
}

/// The value of `k{i}` as written on its line of `out`.
fn written_values(out: &str) -> Vec<String> {
    (0..YAML11_TYPED.len())
        .map(|i| {
            let prefix = format!("k{i}: ");
            out.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no k{i} in the output"))
                .to_string()
        })
        .collect()
}

/// sops writes `ENC[…]` plain, so sealed spells each decrypted value itself: `"10:00"` must
/// stay quoted (it was written `10:00`, which PyYAML loads as the integer 600), as sops
/// quotes it (sops itself writes `<<`, `=` and a spaced time plain; sealed quotes them too).
#[test]
fn decrypt_of_a_sops_file_quotes_strings_yaml_1_1_types() {
    let Some(lab) = Lab::with_sops() else { return };
    lab.write("plain.yaml", yaml11_document());
    lab.sops_encrypt("plain.yaml", "enc.yaml");
    let ours = text(&ok(&lab.sealed(&["decrypt", "enc.yaml"]), "sealed decrypt"));
    for (s, v) in YAML11_TYPED.iter().zip(written_values(&ours)) {
        assert_eq!(v, format!("\"{s}\""), "{s:?} is not quoted");
    }
    // sops reads sealed's plaintext as the data it encrypted.
    lab.write("back.yaml", &ours);
    lab.sops_encrypt("back.yaml", "back.enc.yaml");
    let json = |f: &str| ok(&lab.sops(&["decrypt", "--output-type", "json", f]), f);
    assert_eq!(json("back.enc.yaml"), json("enc.yaml"));
}

/// `sealed set` spells a new string value (and key) quoted when a YAML 1.1 reader types it.
#[test]
fn set_quotes_strings_yaml_1_1_types() {
    let lab = Lab::new();
    lab.write("plain.yaml", "a: 1\n");
    lab.sealed_encrypt("plain.yaml", "enc.yaml");
    for (i, s) in YAML11_TYPED.iter().enumerate() {
        let value = serde_json::Value::String(s.to_string()).to_string();
        ok(
            &lab.sealed(&["set", "enc.yaml", &format!("[\"k{i}\"]"), &value]),
            "sealed set",
        );
    }
    ok(
        &lab.sealed(&["set", "enc.yaml", "[\"y\"]", "1"]),
        "sealed set",
    );
    let out = text(&ok(&lab.sealed(&["decrypt", "enc.yaml"]), "sealed decrypt"));
    for (s, v) in YAML11_TYPED.iter().zip(written_values(&out)) {
        assert_eq!(v, format!("\"{s}\""), "{s:?} is not quoted");
    }
    assert!(out.contains("\n\"y\": 1\n"), "the key y is not quoted");
}

/// `--output-type yaml` (from JSON) quotes the same strings.
#[test]
fn output_type_yaml_quotes_strings_yaml_1_1_types() {
    let lab = Lab::new();
    let doc: serde_json::Map<String, serde_json::Value> = YAML11_TYPED
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("k{i}"), serde_json::Value::String(s.to_string())))
        .collect();
    lab.write("plain.json", serde_json::to_string(&doc).unwrap());
    lab.sealed_encrypt("plain.json", "enc.json");
    let out = text(&ok(
        &lab.sealed(&["decrypt", "--output-type", "yaml", "enc.json"]),
        "sealed decrypt",
    ));
    for (s, v) in YAML11_TYPED.iter().zip(written_values(&out)) {
        assert_eq!(v, format!("\"{s}\""), "{s:?} is not quoted");
    }
}

/// yaml.v3 reads a plain `1e400` as the string "1e400" (Go's ParseFloat fails); sealed
/// typed it as an infinite float, so sops read `.inf` from sealed's file.
#[test]
fn yaml_number_beyond_a_float_is_a_string_as_for_sops() {
    let Some(lab) = Lab::with_sops() else { return };
    lab.write("plain.yaml", "a: 1e400\nb: -1e400\nc: 1e-400\n");
    lab.sealed_encrypt("plain.yaml", "ours.yaml");
    lab.sops_encrypt("plain.yaml", "theirs.yaml");
    let read = |f: &str| {
        ok(
            &lab.sops(&["decrypt", "--output-type", "json", f]),
            &format!("sops decrypt {f}"),
        )
    };
    assert_eq!(
        read("ours.yaml"),
        read("theirs.yaml"),
        "sops reads other data from sealed's file"
    );
    // And sealed gives the plaintext back.
    let back = ok(&lab.sealed(&["decrypt", "ours.yaml"]), "sealed decrypt");
    assert_eq!(back, b"a: 1e400\nb: -1e400\nc: 1e-400\n");
}

/// sops refuses a JSON number beyond a 64-bit float; sealed stored +Inf, which sops could
/// then not write out. sealed now refuses it too, naming the file and position.
#[test]
fn json_number_beyond_a_float_is_refused_as_sops_refuses_it() {
    let Some(lab) = Lab::with_sops() else { return };
    lab.write("plain.json", "{\"a\": 1e400}\n");
    let theirs = lab.sops(&["encrypt", "plain.json"]);
    assert!(!theirs.status.success(), "sops accepted 1e400");
    let ours = lab.sealed(&["encrypt", "--age", &lab.key.public, "plain.json"]);
    assert!(!ours.status.success(), "sealed accepted 1e400");
    assert!(ours.stdout.is_empty());
    let err = text(&ours.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("plain.json:1:7") && err.contains("out of the range of a 64-bit float"),
        "{err}"
    );
}

/// A plaintext both ways with sops: `sops encrypt` → `sealed decrypt` gives what
/// `sops decrypt` gives, and `sealed encrypt` → `sops decrypt` gives the same again; sealed
/// decrypts its own file back to the exact input.
fn both_ways(lab: &Lab, name: &str, plain: &[u8]) {
    lab.write(name, plain);
    let theirs = lab.sops_encrypt(name, &format!("sops.{name}"));
    let theirs = theirs.file_name().unwrap().to_str().unwrap();
    let expected = ok(
        &lab.sops(&["decrypt", theirs]),
        "sops decrypt of sops's file",
    );
    let got = ok(
        &lab.sealed(&["decrypt", theirs]),
        &format!("{name:?}: sealed decrypt of sops's file"),
    );
    assert_eq!(got, expected, "{name}: sealed reads sops's file otherwise");
    let ours = format!("sealed.{name}");
    lab.sealed_encrypt(name, &ours);
    let read = ok(
        &lab.sops(&["decrypt", &ours]),
        &format!("{name}: sops decrypt of sealed's file"),
    );
    assert_eq!(read, expected, "{name}: sops reads sealed's file otherwise");
    let back = ok(&lab.sealed(&["decrypt", &ours]), "sealed decrypt");
    assert_eq!(back, plain, "{name}: no exact round trip");
}

/// sops encrypts a .env file that is empty, blank or holds only comments (its comments
/// encrypted); sealed refused them ("no KEY=value line").
#[test]
fn dotenv_files_without_variables_are_read_as_sops_reads_them() {
    let Some(lab) = Lab::with_sops() else { return };
    for (name, plain) in [
        ("empty.env", &b""[..]),
        ("blank.env", b"\n\n"),
        ("comments.env", b"# only\n# comments\n"),
        ("spaced.env", b"# c\n\n#d\n"),
    ] {
        both_ways(&lab, name, plain);
    }
    // Their data: nothing.
    let out = ok(
        &lab.sealed(&["decrypt", "--output-type", "json", "sops.comments.env"]),
        "sealed decrypt --output-type json",
    );
    assert_eq!(text(&out).trim(), "{}");
}

/// sops reads `=x` as the key "" (and ` =y` as the key " "); sealed refused the line.
/// `exec` and `export`, which need variable names, refuse such a key in one line.
#[test]
fn dotenv_empty_key_is_read_as_sops_reads_it() {
    let Some(lab) = Lab::with_sops() else { return };
    both_ways(&lab, "emptykey.env", b"=x\nA=1\n");
    both_ways(&lab, "spacekey.env", b" =y\n");
    for args in [
        &["exec", "-f", "sops.emptykey.env", "--", "true"][..],
        &["decrypt", "--output-type", "export", "sops.emptykey.env"],
    ] {
        let o = lab.sealed(args);
        assert!(!o.status.success(), "{args:?} accepted an empty name");
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("sops.emptykey.env") && err.contains("variable name"),
            "{err}"
        );
    }
}

/// sops encrypts a .env value's bytes as they are, UTF-8 or not. sealed keeps values as
/// text: it refuses both ways in one line that names the file and says why.
#[test]
fn dotenv_values_not_utf8_are_refused_clearly_both_ways() {
    let Some(lab) = Lab::with_sops() else { return };
    lab.write("latin1.env", b"A=caf\xe9\nB=ok\n");
    lab.sops_encrypt("latin1.env", "sops.latin1.env");
    let o = lab.sealed(&["decrypt", "sops.latin1.env"]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty());
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("sops.latin1.env:1:3")
            && err.contains("not UTF-8 text")
            && err.contains(".env value"),
        "{err}"
    );
    let o = lab.sealed(&["encrypt", "--age", &lab.key.public, "latin1.env"]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("latin1.env:1:") && err.contains("not valid UTF-8"),
        "{err}"
    );
}

/// What sops reads from a YAML plaintext: its own encryption of it, decrypted (all
/// documents, in sops's spelling).
fn sops_reads_yaml(lab: &Lab, name: &str, plain: &[u8]) -> Vec<u8> {
    lab.write(name, plain);
    let enc = format!("sops-read.{name}");
    lab.sops_encrypt(name, &enc);
    ok(&lab.sops(&["decrypt", &enc]), "sops decrypt")
}

/// YAML streams with empty documents: sops reads an empty document (`---` alone, or only
/// comments) as an empty mapping and writes its metadata into it; sealed refused to
/// encrypt them, and decrypted sops's file without the empty first document (which then
/// held only the metadata), so that sops read other documents from sealed's output.
#[test]
fn yaml_empty_documents_are_read_as_sops_reads_them() {
    let Some(lab) = Lab::with_sops() else { return };
    for (i, plain) in [
        &b"---\n---\na: 1\n"[..],
        b"---\n# only a comment\n---\na: 1\n",
        b"# c\n---\na: 1\n",
        b"a: 1\n---\n",
        b"a: 1\n---\n---\nb: 2\n",
        b"---\n",
        b"---\n...\n---\na: 1\n",
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("doc{i}.yaml");
        let expected = sops_reads_yaml(&lab, &name, plain);
        // sops → sealed: sealed's plaintext is read by sops as the same documents.
        let theirs = format!("sops.{name}");
        lab.sops_encrypt(&name, &theirs);
        let ours_plain = ok(&lab.sealed(&["decrypt", &theirs]), "sealed decrypt");
        assert_eq!(
            sops_reads_yaml(&lab, &format!("back{i}.yaml"), &ours_plain),
            expected,
            "{name}: sops reads other data from sealed's decryption of sops's file"
        );
        // sealed → sops, and sealed's exact round trip.
        let ours = format!("sealed.{name}");
        lab.sealed_encrypt(&name, &ours);
        assert_eq!(
            ok(
                &lab.sops(&["decrypt", &ours]),
                "sops decrypt of sealed's file"
            ),
            expected,
            "{name}: sops reads other data from sealed's file"
        );
        assert_eq!(
            ok(&lab.sealed(&["decrypt", &ours]), "sealed decrypt"),
            plain,
            "{name}: no exact round trip"
        );
    }
    // A file holding one empty document is an empty mapping, as for sops.
    let json = ok(
        &lab.sealed(&["decrypt", "--output-type", "json", "sops.doc5.yaml"]),
        "sealed decrypt --output-type json",
    );
    assert_eq!(text(&json).trim(), "{}");
    // Rotating sops's file keeps the empty first document.
    ok(
        &lab.sealed(&["rotate", "--keep-file-recipients", "sops.doc0.yaml"]),
        "sealed rotate",
    );
    assert_eq!(
        ok(&lab.sops(&["decrypt", "sops.doc0.yaml"]), "sops decrypt"),
        sops_reads_yaml(&lab, "doc0.yaml", b"---\n---\na: 1\n")
    );
}

/// yaml.v3 (so sops) reads U+0085, U+2028 and U+2029 as line breaks: `a: x` + U+2028 is
/// "x" for sops, while sealed (YAML 1.2) encrypted "x" + U+2028, so sops read other data
/// from sealed's file than from the plaintext. sealed now refuses a YAML file holding one
/// raw, in one line with its position and the escape to use; written by sealed (`set`,
/// `decrypt`), such a value is escaped and reads back the same for sops.
#[test]
fn yaml_1_1_line_breaks_are_refused_raw_and_escaped_when_written() {
    let Some(lab) = Lab::with_sops() else { return };
    for (c, esc) in [('\u{2028}', "\\L"), ('\u{2029}', "\\P"), ('\u{85}', "\\N")] {
        let plain = format!("a: x{c}\n");
        lab.write("raw.yaml", &plain);
        // sops reads the character as a line break: the value is "x".
        let read = sops_reads_yaml(&lab, "raw.yaml", plain.as_bytes());
        assert_eq!(text(&read), "a: x\n");
        let o = lab.sealed(&["encrypt", "--age", &lab.key.public, "raw.yaml"]);
        assert!(!o.status.success(), "{c:?} accepted");
        assert!(o.stdout.is_empty());
        let err = text(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("raw.yaml:1:5") && err.contains(esc), "{err}");
        // The fix the message gives works, for both.
        let fixed = format!("a: \"x{esc}\"\n");
        lab.write("fixed.yaml", &fixed);
        lab.sealed_encrypt("fixed.yaml", "fixed.enc.yaml");
        let want = serde_json::json!({ "a": format!("x{c}") });
        let json = |f: &str| -> serde_json::Value {
            serde_json::from_slice(&ok(&lab.sops(&["decrypt", "--output-type", "json", f]), f))
                .unwrap()
        };
        assert_eq!(json("fixed.enc.yaml"), want);
        // Written by `set` and decrypted by sealed: escaped, the same value for sops.
        let value = serde_json::Value::String(format!("y{c}")).to_string();
        ok(
            &lab.sealed(&["set", "fixed.enc.yaml", "[\"b\"]", &value]),
            "sealed set",
        );
        let back = ok(
            &lab.sealed(&["decrypt", "fixed.enc.yaml"]),
            "sealed decrypt",
        );
        assert!(!text(&back).contains(c), "a raw {c:?} in sealed's output");
        lab.write("back.yaml", &back);
        lab.sops_encrypt("back.yaml", "back.enc.yaml");
        assert_eq!(
            json("back.enc.yaml"),
            serde_json::json!({ "a": format!("x{c}"), "b": format!("y{c}") })
        );
    }
}

/// sops's `extract_string` functional test: a `|` block scalar whose last line ends the
/// file without a line break has no final line break (YAML 1.2 clip and keep chomping), as
/// sops reads it; sealed used to encrypt and extract `"multi\nline\n"`.
#[test]
fn a_block_scalar_at_the_end_of_a_file_without_a_line_break_reads_as_sops_reads_it() {
    let Some(lab) = Lab::with_sops() else {
        return;
    };
    for (name, plain, want) in [
        ("clip.yaml", "multiline: |\n  multi\n  line", "multi\nline"),
        ("keep.yaml", "multiline: |+\n  multi\n  line", "multi\nline"),
        ("folded.yaml", "multiline: >\n  multi\n  line", "multi line"),
        (
            "ends.yaml",
            "multiline: |\n  multi\n  line\n",
            "multi\nline\n",
        ),
    ] {
        lab.write(name, plain.as_bytes());
        let out = format!("enc.{name}");
        let enc = lab.sealed_encrypt(name, &out);
        let got = ok(
            &lab.sealed(&["decrypt", "--extract", "[\"multiline\"]", &out]),
            "sealed extract",
        );
        assert_eq!(text(&got), want, "{name}: sealed");
        assert_eq!(
            text(&ok(&lab.sealed(&["decrypt", &out]), "sealed decrypt")),
            plain,
            "{name}: byte for byte"
        );
        let got = ok(
            &lab.sops(&[
                "decrypt",
                "--extract",
                "[\"multiline\"]",
                enc.to_str().unwrap(),
            ]),
            "sops extract",
        );
        assert_eq!(text(&got), want, "{name}: sops reads sealed's file");
    }
}
