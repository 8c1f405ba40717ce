//! Behaviour of the `sealed` command line, through the real binary.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Key, demo_key, fake_secrets, fixtures, keygen_in, plain_fixtures, sealed, tempdir};

/// What a run of the binary gave.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: o.stdout,
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Asserts success and returns stdout.
    fn success(self, what: &str) -> Vec<u8> {
        assert!(
            self.ok(),
            "{what}: expected success, got exit {:?}: {}",
            self.code,
            self.stderr
        );
        self.stdout
    }

    /// Asserts a clean failure: the expected code (or any non-zero, non-panic code when
    /// `None`), nothing on stdout, exactly one line on stderr. Returns that line.
    fn failure(self, what: &str, code: Option<i32>) -> String {
        match code {
            Some(c) => assert_eq!(self.code, Some(c), "{what}: exit code ({})", self.stderr),
            None => {
                assert!(
                    !matches!(self.code, Some(0) | Some(101) | None),
                    "{what}: expected a clean failure, got {:?} ({})",
                    self.code,
                    self.stderr
                );
            }
        }
        assert!(
            self.stdout.is_empty(),
            "{what}: stdout must be empty on failure"
        );
        assert_one_line(&self.stderr, what);
        self.stderr
    }
}

fn assert_one_line(stderr: &str, what: &str) {
    assert!(
        stderr.ends_with('\n') && stderr.matches('\n').count() == 1,
        "{what}: stderr must be exactly one line, got: {stderr:?}"
    );
    assert!(stderr.starts_with("sealed: "), "{what}: {stderr:?}");
}

fn run(cmd: &mut assert_cmd::Command) -> Run {
    cmd.output().expect("run sealed").into()
}

fn encrypt(key: &Key, file: &Path) -> Run {
    run(sealed()
        .arg("encrypt")
        .arg("--age")
        .arg(&key.public)
        .arg(file))
}

fn decrypt(key: &Key, file: &Path) -> Run {
    run(sealed()
        .arg("decrypt")
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", &key.path))
}

/// A temporary directory with a fresh key in it.
fn setup() -> (tempfile::TempDir, Key) {
    let dir = tempdir();
    let key = keygen_in(dir.path(), "key.txt");
    (dir, key)
}

fn write(path: &Path, text: &str) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 output")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Encrypts `src` (written as `name` in `dir`) for `key`; returns the encrypted text.
fn encrypt_text(dir: &Path, key: &Key, name: &str, src: &str) -> String {
    let file = write(&dir.join(name), src);
    text(&encrypt(key, &file).success(name))
}

/// The line of `text` that starts (after indentation) with `prefix`.
fn line_index(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}"))
}

fn replace_line(text: &str, idx: usize, new: &str) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    lines[idx] = new.to_string();
    lines.join("\n")
}

/// Replaces the first base64 character of the `data:` field of the token on line `idx`
/// with another valid base64 character.
fn flip_data_char(text: &str, idx: usize) -> String {
    let line = text.split('\n').nth(idx).unwrap();
    let at = line.find("data:").expect("a token on the line") + "data:".len();
    let c = line.as_bytes()[at];
    let flipped = if c == b'A' { 'B' } else { 'A' };
    let new = format!("{}{flipped}{}", &line[..at], &line[at + 1..]);
    replace_line(text, idx, &new)
}

// ---------------------------------------------------------------------------------------
// keygen

#[test]
fn keygen_writes_a_0600_identity_and_prints_the_public_key() {
    let dir = tempdir();
    let path = dir.path().join("keys.txt");
    let out = run(sealed().arg("keygen").arg("-o").arg(&path));
    assert!(out.ok(), "keygen failed: {}", out.stderr);
    assert!(out.stdout.is_empty(), "keygen -o prints nothing on stdout");
    assert_eq!(mode(&path), 0o600);
    let public = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Public key: "))
        .expect("`Public key: …` on stderr");
    assert!(public.starts_with("age1") && public.len() == 62, "{public}");
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(file.contains(&format!("# public key: {public}\n")));
    assert_eq!(
        file.lines()
            .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .count(),
        1
    );
    // Two runs give two different keys.
    let other = keygen_in(dir.path(), "other.txt");
    assert_ne!(other.public, public);
}

#[test]
fn keygen_refuses_to_overwrite() {
    let dir = tempdir();
    let path = write(&dir.path().join("keys.txt"), "keep me\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let line = run(sealed().arg("keygen").arg("-o").arg(&path)).failure("keygen over a file", None);
    assert!(line.contains("keys.txt"), "{line}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me\n");
}

#[test]
fn keygen_without_output_prints_the_identity_on_stdout() {
    let out = run(sealed().arg("keygen"));
    let stdout = text(&out.stdout);
    assert!(out.ok());
    assert!(stdout.lines().any(|l| l.starts_with("AGE-SECRET-KEY-1")));
    let public = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("Public key: "))
        .expect("public key on stderr");
    assert!(stdout.contains(public));
}

// ---------------------------------------------------------------------------------------
// Roundtrips

#[test]
fn every_fixture_roundtrips_byte_for_byte_and_hides_every_secret() {
    let (dir, key) = setup();
    for plain in plain_fixtures() {
        let name = plain.file_name().unwrap().to_string_lossy().into_owned();
        let original = std::fs::read(&plain).unwrap();
        let enc = encrypt(&key, &plain).success(&name);
        let enc_text = text(&enc);
        assert!(
            enc_text.contains("ENC[AES256_GCM,data:"),
            "{name}: no token"
        );
        assert!(
            enc_text.contains(&key.public),
            "{name}: recipient not in the metadata"
        );
        let secrets = fake_secrets(&String::from_utf8_lossy(&original));
        assert!(!secrets.is_empty(), "{name}: fixture without fake secrets");
        for s in &secrets {
            assert!(
                !enc_text.contains(s.as_str()),
                "{name}: a fake secret is left in clear text"
            );
        }
        let enc_path = dir.path().join(format!("enc-{name}"));
        std::fs::write(&enc_path, &enc).unwrap();
        let dec = decrypt(&key, &enc_path).success(&name);
        assert!(
            dec == original,
            "{name}: decrypt(encrypt(x)) differs from x"
        );
    }
}

#[test]
fn committed_encrypted_fixtures_decrypt_to_the_plain_fixtures() {
    let dir = tempdir();
    let key = demo_key(dir.path());
    let plain = plain_fixtures();
    let encrypted = common::files_in(&fixtures().join("encrypted"));
    let names = |v: &[PathBuf]| -> Vec<String> {
        v.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(
        names(&plain),
        names(&encrypted),
        "fixtures/encrypted must mirror fixtures/plain"
    );
    for (p, e) in plain.iter().zip(&encrypted) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let enc_text = std::fs::read_to_string(e).unwrap();
        assert!(
            enc_text.contains(&key.public),
            "{name}: not encrypted for the demo key"
        );
        for s in fake_secrets(&std::fs::read_to_string(p).unwrap()) {
            assert!(
                !enc_text.contains(s.as_str()),
                "{name}: a fake secret is in clear text"
            );
        }
        let dec = decrypt(&key, e).success(&name);
        assert!(
            dec == std::fs::read(p).unwrap(),
            "{name}: differs from fixtures/plain"
        );
    }
}

#[test]
fn unencrypted_suffix_values_stay_readable_by_default() {
    let (_dir, key) = setup();
    let enc = text(&encrypt(&key, &fixtures().join("plain/basic.yaml")).success("basic.yaml"));
    assert!(enc.contains("\n  region_unencrypted: eu-west-1\n"));
    assert!(enc.contains("unencrypted_suffix: _unencrypted"));
    let enc = text(&encrypt(&key, &fixtures().join("plain/basic.env")).success("basic.env"));
    assert!(enc.contains("\nREGION_unencrypted=eu-west-1\n"));
    let enc = text(&encrypt(&key, &fixtures().join("plain/minified.json")).success("minified"));
    assert!(enc.contains(r#""plain_unencrypted":"visible""#));
}

#[test]
fn two_encryptions_differ_but_decrypt_alike() {
    let (dir, key) = setup();
    let src = "a: demo-twice-1\n";
    let one = encrypt_text(dir.path(), &key, "a.yaml", src);
    let two = encrypt_text(dir.path(), &key, "a.yaml", src);
    assert_ne!(one, two, "fresh data key and IVs on every encryption");
    for (i, enc) in [one, two].iter().enumerate() {
        let f = write(&dir.path().join(format!("e{i}.yaml")), enc);
        assert_eq!(text(&decrypt(&key, &f).success("decrypt")), src);
    }
}

// ---------------------------------------------------------------------------------------
// Where input comes from and output goes

#[test]
fn in_place_is_atomic_and_keeps_permissions() {
    let (dir, key) = setup();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let original = std::fs::read(fixtures().join("plain/basic.yaml")).unwrap();
    let file = work.join("secrets.yaml");
    std::fs::write(&file, &original).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();

    let out = run(sealed()
        .arg("encrypt")
        .arg("-i")
        .arg("--age")
        .arg(&key.public)
        .arg(&file));
    assert!(out.stdout.is_empty(), "-i prints nothing");
    out.success("encrypt -i");
    let enc = std::fs::read_to_string(&file).unwrap();
    assert!(enc.contains("ENC[AES256_GCM"));
    assert_eq!(mode(&file), 0o640, "permissions kept by encrypt -i");
    assert_eq!(
        dir_names(&work),
        ["secrets.yaml"],
        "no temporary file left behind"
    );

    let out = run(sealed()
        .arg("decrypt")
        .arg("--in-place")
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", &key.path));
    assert!(out.stdout.is_empty());
    out.success("decrypt -i");
    assert!(
        std::fs::read(&file).unwrap() == original,
        "decrypt -i restores the file"
    );
    assert_eq!(mode(&file), 0o640, "permissions kept by decrypt -i");
    assert_eq!(dir_names(&work), ["secrets.yaml"]);
}

#[test]
fn output_flag_writes_a_file() {
    let (dir, key) = setup();
    let plain = fixtures().join("plain/pretty.json");
    let enc = dir.path().join("out.json");
    let out = run(sealed()
        .arg("encrypt")
        .arg("--age")
        .arg(&key.public)
        .arg("-o")
        .arg(&enc)
        .arg(&plain));
    assert!(out.stdout.is_empty());
    out.success("encrypt -o");
    assert!(
        std::fs::read_to_string(&enc)
            .unwrap()
            .contains("ENC[AES256_GCM")
    );
    let dec = dir.path().join("dec.json");
    run(sealed()
        .arg("decrypt")
        .arg("--output")
        .arg(&dec)
        .arg(&enc)
        .env("SOPS_AGE_KEY_FILE", &key.path))
    .success("decrypt -o");
    assert!(std::fs::read(&dec).unwrap() == std::fs::read(&plain).unwrap());
}

#[test]
fn stdin_with_input_type() {
    let (_dir, key) = setup();
    for (name, ty) in [
        ("basic.yaml", "yaml"),
        ("tabs.json", "json"),
        ("basic.env", "dotenv"),
    ] {
        let original = std::fs::read(fixtures().join("plain").join(name)).unwrap();
        let enc = run(sealed()
            .args(["encrypt", "--input-type", ty, "--age", &key.public, "-"])
            .write_stdin(original.clone()))
        .success(name);
        assert!(text(&enc).contains("ENC[AES256_GCM"), "{name}");
        let dec = run(sealed()
            .args(["decrypt", "--input-type", ty, "-"])
            .env("SOPS_AGE_KEY_FILE", &key.path)
            .write_stdin(enc))
        .success(name);
        assert!(dec == original, "{name}: stdin roundtrip differs");
    }
}

#[test]
fn stdin_needs_a_type_or_a_filename_override() {
    let (_dir, key) = setup();
    let line = run(sealed()
        .args(["encrypt", "--age", &key.public, "-"])
        .write_stdin("a: demo-stdin-1\n"))
    .failure("stdin without type", None);
    assert!(line.contains("--input-type"), "{line}");
    assert!(!line.contains("demo-stdin-1"));

    let enc = run(sealed()
        .args([
            "encrypt",
            "--age",
            &key.public,
            "--filename-override",
            "x/prod.json",
            "-",
        ])
        .write_stdin("{\"a\": \"demo-stdin-2\"}"))
    .success("filename override");
    assert!(text(&enc).contains("\"sops\": {") || text(&enc).contains("\"sops\":{"));
}

#[test]
fn format_is_taken_from_the_file_name() {
    let (dir, key) = setup();
    let env_src = "A=demo-name-1\n";
    let yaml_src = "a: demo-name-2\n";
    let json_src = "{\"a\": \"demo-name-3\"}\n";
    for (name, src, marker) in [
        (".env", env_src, "\nsops_version="),
        ("prod.env", env_src, "\nsops_version="),
        (".env.local", env_src, "\nsops_version="),
        ("values.yml", yaml_src, "\nsops:\n"),
        ("values.YAML", yaml_src, "\nsops:\n"),
        ("config.json", json_src, "\"sops\""),
    ] {
        let sub = dir
            .path()
            .join(format!("d-{}", name.trim_start_matches('.')));
        let enc = encrypt_text(&sub, &key, name, src);
        assert!(enc.contains(marker), "{name}: wrong format chosen");
        // Decrypt detects the format from the same name.
        let file = write(&sub.join(name), &enc);
        assert_eq!(text(&decrypt(&key, &file).success(name)), src, "{name}");
    }
    // Any other name is sops's binary store: the whole file is one value.
    let file = write(&dir.path().join("notes.txt"), yaml_src);
    let enc = text(&encrypt(&key, &file).success("txt"));
    assert!(
        enc.starts_with("{\n\t\"data\": \"ENC["),
        "txt: wrong format chosen"
    );
    let file = write(&dir.path().join("notes.txt"), &enc);
    assert_eq!(text(&decrypt(&key, &file).success("txt")), yaml_src);
}

// ---------------------------------------------------------------------------------------
// Errors

#[test]
fn invalid_documents_fail_with_one_positioned_line_and_no_source_text() {
    let (dir, key) = setup();
    let cases = [
        (
            "bad.yaml",
            "ok: 1\npassword: \"demo-bad-yaml-1\n",
            "bad.yaml:2:",
        ),
        (
            "bad2.yaml",
            "ok: 1\n  nested: demo-bad-yaml-2\n",
            "bad2.yaml:2:",
        ),
        ("bad3.yaml", "a: [demo-bad-yaml-3\n", "bad3.yaml:"),
        (
            "bad.json",
            "{\n  \"a\": \"demo-bad-json-1\",,\n}\n",
            "bad.json:2:",
        ),
        (
            "bad2.json",
            "{\"a\": \"demo-bad-json-2\" \"b\": 1}",
            "bad2.json:1:",
        ),
        ("bad3.json", "{\"a\": \"demo-bad-json-3\n\"}", "bad3.json:"),
        (
            "bad.env",
            "A=1\nnot a key value line demo-bad-env-1\n",
            "bad.env:2:",
        ),
        ("list.yaml", "- demo-bad-list-1\n", "list.yaml:1:"),
        ("list.json", "[\"demo-bad-list-2\"]", "list.json:1:"),
    ];
    let positioned = regex::Regex::new(r":\d+:\d+: ").unwrap();
    for (name, src, position) in cases {
        let file = write(&dir.path().join(name), src);
        let line = encrypt(&key, &file).failure(name, None);
        assert!(
            line.contains(position),
            "{name}: expected {position} in {line:?}"
        );
        assert!(
            positioned.is_match(&line),
            "{name}: file:line:col expected in {line:?}"
        );
        for s in fake_secrets(src) {
            assert!(
                !line.contains(s.as_str()),
                "{name}: the error quotes the source text"
            );
        }
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            src,
            "{name}: input touched"
        );
        // decrypt reports syntax errors the same way
        let line = decrypt(&key, &file).failure(name, None);
        for s in fake_secrets(src) {
            assert!(
                !line.contains(s.as_str()),
                "{name}: decrypt error quotes the source"
            );
        }
    }
}

#[test]
fn invalid_utf8_is_a_clean_error() {
    let (dir, key) = setup();
    let file = dir.path().join("latin1.yaml");
    std::fs::write(&file, b"a: demo-latin-1\nb: caf\xe9\n").unwrap();
    let line = encrypt(&key, &file).failure("latin1", None);
    assert!(line.contains("latin1.yaml:2:"), "{line}");
    assert!(!line.contains("demo-latin-1"));
}

#[test]
fn empty_files_are_clean_errors() {
    let (dir, key) = setup();
    // (An empty .env file is encrypted, as sops encrypts it: see tests/hardening_format.rs.)
    for name in ["empty.yaml", "empty.json", "blank.yaml"] {
        let src = if name == "blank.yaml" { "\n  \n" } else { "" };
        let file = write(&dir.path().join(name), src);
        let line = encrypt(&key, &file).failure(name, None);
        assert!(line.contains(name), "{name}: {line}");
    }
}

#[test]
fn already_encrypted_input_is_refused_untouched() {
    let (dir, key) = setup();
    for name in ["basic.yaml", "basic.json", "basic.env"] {
        let enc = encrypt_text(
            dir.path(),
            &key,
            name,
            &std::fs::read_to_string(fixtures().join("plain").join(name)).unwrap(),
        );
        let file = write(&dir.path().join(format!("twice-{name}")), &enc);
        let line = encrypt(&key, &file).failure(name, Some(203));
        assert!(line.contains("already encrypted"), "{line}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), enc);
        let out = run(sealed()
            .args(["encrypt", "-i", "--age", &key.public])
            .arg(&file));
        out.failure(name, Some(203));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            enc,
            "{name}: -i touched the file"
        );
    }
}

#[test]
fn decrypt_of_a_plain_file_fails() {
    let (_dir, key) = setup();
    decrypt(&key, &fixtures().join("plain/basic.yaml")).failure("plain", None);
}

#[test]
fn decrypt_without_a_key_explains_where_keys_are_looked_for() {
    let (dir, key) = setup();
    let other = keygen_in(dir.path(), "other.txt");
    let enc = text(
        &run(sealed()
            .args(["encrypt", "--age"])
            .arg(format!("{},{}", key.public, other.public))
            .arg(fixtures().join("plain/basic.yaml")))
        .success("encrypt"),
    );
    let file = write(&dir.path().join("s.yaml"), &enc);
    let line = run(sealed().arg("decrypt").arg(&file)).failure("no key", Some(128));
    assert!(
        line.contains(&key.public) && line.contains(&other.public),
        "{line}"
    );
    assert!(line.contains("SOPS_AGE_KEY_FILE"), "{line}");
    assert!(
        line.contains("sealed team add") && !line.contains("sealed keygen"),
        "{line}"
    );
}

#[test]
fn decrypt_with_the_wrong_key_fails() {
    let (dir, key) = setup();
    let wrong = keygen_in(dir.path(), "wrong.txt");
    let enc = encrypt_text(dir.path(), &key, "s.yaml", "a: demo-wrong-1\n");
    let file = write(&dir.path().join("s.yaml"), &enc);
    let line = decrypt(&wrong, &file).failure("wrong key", Some(128));
    assert!(line.contains(&key.public), "{line}");
    let out_file = dir.path().join("never.yaml");
    run(sealed()
        .arg("decrypt")
        .arg("-o")
        .arg(&out_file)
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", &wrong.path))
    .failure("wrong key -o", Some(128));
    assert!(!out_file.exists(), "no output file on failure");
}

#[test]
fn in_place_and_output_conflict() {
    let (dir, key) = setup();
    let file = write(&dir.path().join("a.yaml"), "a: demo-conflict-1\n");
    let out = dir.path().join("b.yaml");
    let line = run(sealed()
        .args(["encrypt", "-i", "--age", &key.public, "-o"])
        .arg(&out)
        .arg(&file))
    .failure("-i -o", Some(8));
    assert!(
        line.contains("--in-place") && line.contains("--output"),
        "{line}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "a: demo-conflict-1\n"
    );
    run(sealed().args(["decrypt", "-i", "-o"]).arg(&out).arg(&file))
        .failure("decrypt -i -o", Some(8));
    run(sealed()
        .args([
            "encrypt",
            "-i",
            "--input-type",
            "yaml",
            "--age",
            &key.public,
            "-",
        ])
        .write_stdin("a: 1\n"))
    .failure("-i with stdin", Some(8));
}

#[test]
fn conflicting_selection_flags_are_refused() {
    let (dir, key) = setup();
    let file = write(&dir.path().join("a.yaml"), "a: 1\n");
    run(sealed()
        .args([
            "encrypt",
            "--age",
            &key.public,
            "--encrypted-regex",
            "a",
            "--unencrypted-suffix",
            "_x",
        ])
        .arg(&file))
    .failure("two selection flags", Some(8));
}

#[test]
fn no_recipient_is_an_error() {
    let dir = tempdir();
    let file = write(&dir.path().join("a.yaml"), "a: demo-norecipient-1\n");
    let line = run(sealed().arg("encrypt").arg(&file).current_dir(dir.path()))
        .failure("no recipient", Some(111));
    assert!(
        line.contains("--age") && line.contains("SOPS_AGE_RECIPIENTS"),
        "{line}"
    );
    let line = run(sealed()
        .args(["encrypt", "--age", "age1notakey"])
        .arg(&file))
    .failure("bad recipient", None);
    assert!(line.contains("age1notakey"), "{line}");
}

// ---------------------------------------------------------------------------------------
// Tampering

/// A YAML file with values, a list, an encrypted comment and an unencrypted value.
const TAMPER_SRC: &str = "\
# top comment demo-tamper-comment-1
user: demo-tamper-user-2
password: demo-tamper-password-3
list:
  - demo-tamper-item-4
  - demo-tamper-item-5
region_unencrypted: eu-west-1
";

fn tamper_case(edit: impl Fn(&str) -> String, what: &str, code: Option<i32>) {
    let (dir, key) = setup();
    let enc = encrypt_text(dir.path(), &key, "t.yaml", TAMPER_SRC);
    let file = write(&dir.path().join("t.yaml"), &enc);
    // Sanity: the untouched file decrypts.
    assert_eq!(text(&decrypt(&key, &file).success(what)), TAMPER_SRC);
    let altered = edit(&enc);
    assert_ne!(altered, enc, "{what}: the edit changed nothing");
    write(&file, &altered);
    let line = decrypt(&key, &file).failure(what, code);
    for s in fake_secrets(TAMPER_SRC) {
        assert!(!line.contains(s.as_str()), "{what}: secret in the error");
    }
}

#[test]
fn tamper_flipped_value_data_fails_with_25() {
    tamper_case(
        |t| flip_data_char(t, line_index(t, "password:")),
        "flipped data",
        Some(25),
    );
}

#[test]
fn tamper_swapped_value_tokens_fail() {
    tamper_case(
        |t| {
            let (u, p) = (line_index(t, "user:"), line_index(t, "password:"));
            let lines: Vec<&str> = t.split('\n').collect();
            let tok = |l: &str| l.split_once(": ").unwrap().1.to_string();
            let swapped = replace_line(t, u, &format!("user: {}", tok(lines[p])));
            replace_line(&swapped, p, &format!("password: {}", tok(lines[u])))
        },
        "swapped tokens",
        None,
    );
}

#[test]
fn tamper_swapped_list_items_fail() {
    // Items of one list share their additional data; only the MAC catches a swap.
    tamper_case(
        |t| {
            let a = line_index(t, "- ENC[");
            let lines: Vec<&str> = t.split('\n').collect();
            let (first, second) = (lines[a].to_string(), lines[a + 1].to_string());
            replace_line(&replace_line(t, a, &second), a + 1, &first)
        },
        "swapped list items",
        Some(51),
    );
}

#[test]
fn tamper_removed_mac_fails_with_52() {
    tamper_case(
        |t| {
            t.split('\n')
                .filter(|l| !l.trim_start().starts_with("mac:"))
                .collect::<Vec<_>>()
                .join("\n")
        },
        "mac removed",
        Some(52),
    );
}

#[test]
fn tamper_changed_unencrypted_value_fails_with_51() {
    tamper_case(
        |t| {
            t.replace(
                "region_unencrypted: eu-west-1",
                "region_unencrypted: eu-west-2",
            )
        },
        "unencrypted value changed",
        Some(51),
    );
}

#[test]
fn tamper_altered_encrypted_comment_fails_with_25() {
    tamper_case(
        |t| flip_data_char(t, line_index(t, "#ENC[")),
        "comment altered",
        Some(25),
    );
}

#[test]
fn tamper_removed_value_fails_with_51() {
    tamper_case(
        |t| {
            let u = line_index(t, "user:");
            t.split('\n')
                .enumerate()
                .filter(|(i, _)| *i != u)
                .map(|(_, l)| l)
                .collect::<Vec<_>>()
                .join("\n")
        },
        "value removed",
        Some(51),
    );
}

#[test]
fn tamper_in_json_and_dotenv_fails() {
    let (dir, key) = setup();
    let json = encrypt_text(
        dir.path(),
        &key,
        "t.json",
        "{\"user\": \"demo-tj-1\", \"pw\": \"demo-tj-2\"}\n",
    );
    let i = json.find("\"pw\": \"ENC[AES256_GCM,data:").unwrap()
        + "\"pw\": \"ENC[AES256_GCM,data:".len();
    let flipped = format!(
        "{}{}{}",
        &json[..i],
        if &json[i..=i] == "A" { "B" } else { "A" },
        &json[i + 1..]
    );
    let file = write(&dir.path().join("t.json"), &flipped);
    decrypt(&key, &file).failure("json flipped", Some(25));

    let env = encrypt_text(dir.path(), &key, "t.env", "USER=demo-te-1\nPW=demo-te-2\n");
    let file = write(
        &dir.path().join("t.env"),
        &flip_data_char(&env, line_index(&env, "PW=")),
    );
    decrypt(&key, &file).failure("dotenv flipped", Some(25));
}

// ---------------------------------------------------------------------------------------
// Recipients and identities

fn decrypts_with(key_file: &Path, file: &Path) -> Run {
    run(sealed()
        .arg("decrypt")
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", key_file))
}

#[test]
fn sops_yaml_path_regex_chooses_recipients() {
    let (dir, prod) = setup();
    let dev = keygen_in(dir.path(), "dev.txt");
    let root = dir.path().join("repo");
    write(
        &root.join(".sops.yaml"),
        &format!(
            "creation_rules:\n  - path_regex: ^prod/.*\\.yaml$\n    age: {}\n  - path_regex: ^dev/\n    age: '{}'\n",
            prod.public, dev.public
        ),
    );
    let src = "a: demo-rule-1\n";
    let p = write(&root.join("prod/app.yaml"), src);
    let d = write(&root.join("dev/app.yaml"), src);
    for f in [&p, &d] {
        let out = run(sealed().arg("encrypt").arg("-i").arg(f));
        out.success("encrypt by rule");
    }
    assert_eq!(text(&decrypts_with(&prod.path, &p).success("prod")), src);
    decrypts_with(&dev.path, &p).failure("prod file, dev key", Some(128));
    assert_eq!(text(&decrypts_with(&dev.path, &d).success("dev")), src);
    decrypts_with(&prod.path, &d).failure("dev file, prod key", Some(128));

    // No rule matches: a clear error naming the config.
    let other = write(&root.join("other/app.yaml"), src);
    let line = run(sealed().arg("encrypt").arg(&other)).failure("no rule", Some(111));
    assert!(line.contains(".sops.yaml"), "{line}");
}

#[test]
fn sops_yaml_is_found_from_a_parent_directory() {
    let (dir, key) = setup();
    let root = dir.path().join("repo");
    write(
        &root.join(".sops.yaml"),
        &format!("creation_rules:\n  - age: {}\n", key.public),
    );
    let src = "a: demo-parent-1\n";
    let deep = write(&root.join("a/b/c/secrets.yaml"), src);
    // Absolute path, working directory elsewhere.
    let enc = run(sealed().arg("encrypt").arg(&deep)).success("absolute path");
    assert!(text(&enc).contains(&key.public));
    // Relative path from a subdirectory.
    let enc = run(sealed()
        .args(["encrypt", "b/c/secrets.yaml"])
        .current_dir(root.join("a")))
    .success("relative path");
    assert!(text(&enc).contains(&key.public));
    // --config given explicitly, file elsewhere.
    let loose = write(&dir.path().join("loose.yaml"), src);
    let enc = run(sealed()
        .arg("encrypt")
        .arg("--config")
        .arg(root.join(".sops.yaml"))
        .arg(&loose))
    .success("--config");
    assert!(text(&enc).contains(&key.public));
}

#[test]
fn sops_yaml_age_as_list_and_as_comma_string() {
    let (dir, a) = setup();
    let b = keygen_in(dir.path(), "b.txt");
    let configs = [
        format!(
            "creation_rules:\n  - age:\n      - {}\n      - {}\n",
            a.public, b.public
        ),
        format!("creation_rules:\n  - age: \"{}, {}\"\n", a.public, b.public),
        format!(
            "creation_rules:\n  - age: >-\n      {},\n      {}\n",
            a.public, b.public
        ),
    ];
    for (i, config) in configs.iter().enumerate() {
        let root = dir.path().join(format!("repo{i}"));
        write(&root.join(".sops.yaml"), config);
        let src = format!("a: demo-list-{i}\n");
        let f = write(&root.join("s.yaml"), &src);
        run(sealed().args(["encrypt", "-i"]).arg(&f)).success("encrypt");
        for k in [&a, &b] {
            assert_eq!(
                text(&decrypts_with(&k.path, &f).success("each key alone")),
                src,
                "config {i}"
            );
        }
    }
}

#[test]
fn sops_age_recipients_environment() {
    let (dir, key) = setup();
    let f = write(&dir.path().join("s.env"), "A=demo-envrec-1\n");
    let enc = run(sealed()
        .arg("encrypt")
        .arg(&f)
        .env("SOPS_AGE_RECIPIENTS", &key.public))
    .success("env recipients");
    let e = write(&dir.path().join("e.env"), &text(&enc));
    assert_eq!(
        text(&decrypt(&key, &e).success("decrypt")),
        "A=demo-envrec-1\n"
    );
}

#[test]
fn two_recipients_each_decrypt_alone() {
    let (dir, a) = setup();
    let b = keygen_in(dir.path(), "b.txt");
    let src = std::fs::read_to_string(fixtures().join("plain/basic.json")).unwrap();
    let f = write(&dir.path().join("s.json"), &src);
    run(sealed()
        .args(["encrypt", "-i", "--age"])
        .arg(format!("{},{}", a.public, b.public))
        .arg(&f))
    .success("two recipients");
    let enc = std::fs::read_to_string(&f).unwrap();
    assert!(enc.contains(&a.public) && enc.contains(&b.public));
    assert_eq!(text(&decrypt(&a, &f).success("a")), src);
    assert_eq!(text(&decrypt(&b, &f).success("b")), src);
}

#[test]
fn ssh_ed25519_recipient_and_identity() {
    let Some(shared) = common::shared() else {
        return;
    };
    let fx = shared.join("sops-fixtures/generated-sops-3.11.0");
    let dir = tempdir();
    let ssh_key = dir.path().join("id_ed25519");
    common::write_private(
        &ssh_key,
        &std::fs::read(fx.join("ssh_ed25519_test_key")).unwrap(),
    );
    let public = std::fs::read_to_string(fx.join("ssh_ed25519_test_key.pub")).unwrap();
    let public = public.trim();
    let src = "user: demo-ssh-1\npass: demo-ssh-2\n";
    let f = write(&dir.path().join("s.yaml"), src);
    run(sealed().args(["encrypt", "-i", "--age", public]).arg(&f)).success("ssh recipient");
    let enc = std::fs::read_to_string(&f).unwrap();
    assert!(enc.contains("recipient: ssh-ed25519 AAAA"));
    let dec = run(sealed()
        .arg("decrypt")
        .arg(&f)
        .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &ssh_key))
    .success("ssh identity");
    assert_eq!(text(&dec), src);
    // Without the ssh key: no identity.
    run(sealed().arg("decrypt").arg(&f)).failure("no ssh key", Some(128));
}

#[test]
fn sops_age_key_inline_and_key_cmd() {
    let (dir, key) = setup();
    let src = "a: demo-inline-1\n";
    let f = write(
        &dir.path().join("s.yaml"),
        &encrypt_text(dir.path(), &key, "p.yaml", src),
    );
    let identity = std::fs::read_to_string(&key.path).unwrap();
    let dec = run(sealed()
        .arg("decrypt")
        .arg(&f)
        .env("SOPS_AGE_KEY", &identity))
    .success("SOPS_AGE_KEY");
    assert_eq!(text(&dec), src);
    let cmd = format!("cat '{}'", key.path.display());
    let dec = run(sealed()
        .arg("decrypt")
        .arg(&f)
        .env("SOPS_AGE_KEY_CMD", &cmd))
    .success("SOPS_AGE_KEY_CMD");
    assert_eq!(text(&dec), src);
    // A failing key command is an error, not a silent fallback.
    let line = run(sealed()
        .arg("decrypt")
        .arg(&f)
        .env("SOPS_AGE_KEY_CMD", "exit 3"))
    .failure("failing cmd", None);
    assert!(line.contains("SOPS_AGE_KEY_CMD"), "{line}");
}

#[test]
fn default_keys_file_under_home_is_used() {
    let (dir, key) = setup();
    let home = dir.path().join("home");
    let keys = home.join(".config/sops/age/keys.txt");
    std::fs::create_dir_all(keys.parent().unwrap()).unwrap();
    common::write_private(&keys, &std::fs::read(&key.path).unwrap());
    let src = "a: demo-home-1\n";
    let f = write(
        &dir.path().join("s.yaml"),
        &encrypt_text(dir.path(), &key, "p.yaml", src),
    );
    let dec = run(sealed().arg("decrypt").arg(&f).env("HOME", &home)).success("default keys file");
    assert_eq!(text(&dec), src);
}

// ---------------------------------------------------------------------------------------
// Selection of what is encrypted

const SELECT_SRC: &str = "\
user: demo-select-user-1
password: demo-select-password-2
db:
  password: demo-select-password-3
  host_public: db.example.org
token: demo-select-token-4
port: 5432
";

fn check_selection(enc: &str, clear: &[&str], hidden: &[&str]) {
    for c in clear {
        assert!(enc.contains(c), "{c:?} should stay in clear text");
    }
    for h in hidden {
        assert!(
            !enc.contains(h),
            "a value that should be encrypted is in clear text"
        );
    }
}

/// Encrypts SELECT_SRC with the selection flags `flags`, checks that it decrypts back,
/// and returns the sandbox, the key, the ciphertext and the encrypted file.
fn encrypt_select(flags: &[&str]) -> (tempfile::TempDir, Key, String, PathBuf) {
    let (dir, key) = setup();
    let f = write(&dir.path().join("s.yaml"), SELECT_SRC);
    let enc = text(
        &run(sealed()
            .args(["encrypt", "--age", &key.public])
            .args(flags)
            .arg(&f))
        .success("encrypt"),
    );
    let e = write(&dir.path().join("e.yaml"), &enc);
    assert_eq!(text(&decrypt(&key, &e).success("decrypt")), SELECT_SRC);
    (dir, key, enc, e)
}

#[test]
fn encrypted_regex_flag() {
    let (_dir, _key, enc, _) = encrypt_select(&["--encrypted-regex", "^(password|token)$"]);
    check_selection(
        &enc,
        &[
            "user: demo-select-user-1",
            "host_public: db.example.org",
            "port: 5432",
            "encrypted_regex: ^(password|token)$",
        ],
        &[
            "demo-select-password-2",
            "demo-select-password-3",
            "demo-select-token-4",
        ],
    );
}

#[test]
fn unencrypted_suffix_flag() {
    let (_dir, _key, enc, _) = encrypt_select(&["--unencrypted-suffix", "_public"]);
    check_selection(
        &enc,
        &["host_public: db.example.org", "unencrypted_suffix: _public"],
        &[
            "demo-select-user-1",
            "demo-select-password-2",
            "demo-select-password-3",
            "demo-select-token-4",
            "port: 5432",
        ],
    );
}

#[test]
fn mac_only_encrypted_flag() {
    let (_dir, key, enc, e) =
        encrypt_select(&["--mac-only-encrypted", "--encrypted-regex", "password"]);
    assert!(enc.contains("mac_only_encrypted: true"));
    // Clear values are outside the MAC now: changing one is allowed…
    write(
        &e,
        &enc.replace("user: demo-select-user-1", "user: demo-select-user-9"),
    );
    assert_eq!(
        text(&decrypt(&key, &e).success("changed clear value")),
        SELECT_SRC.replace("demo-select-user-1", "demo-select-user-9")
    );
    // …but encrypted values are still covered.
    let flipped = flip_data_char(&enc, line_index(&enc, "password:"));
    write(&e, &flipped);
    decrypt(&key, &e).failure("flipped", Some(25));
}

#[test]
fn selection_from_sops_yaml_rules() {
    let (dir, key) = setup();
    let root = dir.path().join("repo");
    write(
        &root.join(".sops.yaml"),
        &format!(
            "creation_rules:\n  - path_regex: regex/\n    age: {k}\n    encrypted_regex: ^(password|token)$\n    mac_only_encrypted: true\n  - path_regex: suffix/\n    age: {k}\n    unencrypted_suffix: _public\n",
            k = key.public
        ),
    );
    let r = write(&root.join("regex/s.yaml"), SELECT_SRC);
    let s = write(&root.join("suffix/s.yaml"), SELECT_SRC);
    run(sealed().args(["encrypt", "-i"]).arg(&r)).success("regex rule");
    run(sealed().args(["encrypt", "-i"]).arg(&s)).success("suffix rule");
    let re = std::fs::read_to_string(&r).unwrap();
    check_selection(
        &re,
        &[
            "user: demo-select-user-1",
            "port: 5432",
            "encrypted_regex: ^(password|token)$",
            "mac_only_encrypted: true",
        ],
        &[
            "demo-select-password-2",
            "demo-select-password-3",
            "demo-select-token-4",
        ],
    );
    let su = std::fs::read_to_string(&s).unwrap();
    check_selection(
        &su,
        &["host_public: db.example.org", "unencrypted_suffix: _public"],
        &[
            "demo-select-user-1",
            "demo-select-password-2",
            "demo-select-token-4",
        ],
    );
    assert!(!su.contains("mac_only_encrypted"));
    assert_eq!(text(&decrypt(&key, &r).success("regex")), SELECT_SRC);
    assert_eq!(text(&decrypt(&key, &s).success("suffix")), SELECT_SRC);
    // A flag overrides the rule's selection.
    let o = write(&root.join("suffix/o.yaml"), SELECT_SRC);
    let enc = text(
        &run(sealed()
            .args(["encrypt", "--encrypted-regex", "^token$"])
            .arg(&o))
        .success("flag wins"),
    );
    check_selection(
        &enc,
        &["user: demo-select-user-1", "encrypted_regex: ^token$"],
        &["demo-select-token-4"],
    );
}

#[test]
fn shamir_key_groups_two_of_three() {
    let (dir, a) = setup();
    let b = keygen_in(dir.path(), "b.txt");
    let c = keygen_in(dir.path(), "c.txt");
    let root = dir.path().join("repo");
    write(
        &root.join(".sops.yaml"),
        &format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age:\n          - {}\n      - age: ['{}']\n",
            a.public, b.public, c.public
        ),
    );
    let src = std::fs::read_to_string(fixtures().join("plain/basic.yaml")).unwrap();
    let f = write(&root.join("s.yaml"), &src);
    run(sealed().args(["encrypt", "-i"]).arg(&f)).success("shamir encrypt");
    let enc = std::fs::read_to_string(&f).unwrap();
    assert!(enc.contains("shamir_threshold: 2"));
    assert!(enc.contains("key_groups:"));
    let identity = |k: &Key| std::fs::read_to_string(&k.path).unwrap();
    for (x, y) in [(&a, &b), (&a, &c), (&b, &c)] {
        let both = format!("{}{}", identity(x), identity(y));
        let dec =
            run(sealed().arg("decrypt").arg(&f).env("SOPS_AGE_KEY", &both)).success("two of three");
        assert!(dec == src.as_bytes(), "two identities decrypt");
    }
    for k in [&a, &b, &c] {
        decrypt(k, &f).failure("one of three", Some(128));
    }
}

#[test]
fn tamper_altered_spelling_metadata_fails_with_25() {
    // A double-quoted value with an escape has a non-canonical spelling, which travels
    // encrypted in the metadata's `sealed` field; altering it must be caught too.
    let (dir, key) = setup();
    let src = "password: \"demo-spelling-1 caf\\u00e9\"\n";
    let enc = encrypt_text(dir.path(), &key, "s.yaml", src);
    let idx = line_index(&enc, "sealed: ENC[");
    let file = write(&dir.path().join("s.yaml"), &flip_data_char(&enc, idx));
    decrypt(&key, &file).failure("spelling altered", Some(25));
}
