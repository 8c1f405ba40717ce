//! Interoperability with the real `sops` (3.11): files written by either tool are read by
//! the other with the same data, and each checks the other's MAC.
//!
//! Data is compared the way sops sees it: JSON values (numbers as f64, since sops 3.11 reads
//! every JSON number as a float), .env lines as sops splits them, and YAML as sops's JSON
//! output (or, for several documents, its YAML output without comment lines, since sops
//! moves comments around). Files with YAML aliases are not expected to be sops-readable once
//! sealed has encrypted them (sops expands an alias into a copy of the token, which then
//! fails its additional data), so part (a) skips them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Key, demo_key, peer, shared, tempdir};
use serde_json::Value;

/// What a document holds, as sops understands it.
#[derive(Debug, PartialEq)]
enum Data {
    /// sops's own YAML emission of several documents, without comment lines.
    Yaml(String),
    /// JSON with every number as f64.
    Json(Value),
    /// .env key/value pairs as sops splits them.
    Dotenv(Vec<(String, String)>),
}

fn normalize(v: Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().map(Value::from).unwrap_or(Value::Number(n)),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, normalize(v))).collect()),
        other => other,
    }
}

fn strip_comment_lines(yaml: &str) -> String {
    yaml.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// sops's dotenv reading: split on `\n`, skip empty and `#` lines, key before the first `=`,
/// a literal `\n` in the value becomes a newline.
fn dotenv_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=')?;
        out.push((k.to_string(), v.replace("\\n", "\n")));
    }
    Some(out)
}

/// The peer sops with a clean environment and one identity.
struct Sops {
    bin: PathBuf,
    key: Key,
}

impl Sops {
    fn new(dir: &Path) -> Option<Sops> {
        let bin = peer("sops")?;
        Some(Sops {
            bin,
            key: demo_key(dir),
        })
    }

    fn cmd(&self, cwd: &Path) -> Command {
        let mut c = Command::new(&self.bin);
        c.env_clear()
            .env("PATH", common::path_var())
            .env("HOME", common::empty_home())
            .env("SOPS_AGE_KEY_FILE", &self.key.path)
            .env("SOPS_AGE_RECIPIENTS", &self.key.public)
            .current_dir(cwd);
        c
    }

    /// `sops encrypt`; `None` when sops refuses the plaintext.
    fn encrypt(&self, plain: &Path, ty: &str) -> Option<Vec<u8>> {
        let out = self
            .cmd(plain.parent().unwrap())
            .args(["encrypt", "--input-type", ty, "--output-type", ty])
            .arg(plain)
            .output()
            .expect("run sops encrypt");
        out.status.success().then_some(out.stdout)
    }

    /// `sops decrypt` to `out_ty`; `Err(exit code)` on failure.
    fn decrypt(&self, enc: &Path, ty: &str, out_ty: &str) -> Result<Vec<u8>, Option<i32>> {
        let out = self
            .cmd(enc.parent().unwrap())
            .args(["decrypt", "--input-type", ty, "--output-type", out_ty])
            .arg(enc)
            .output()
            .expect("run sops decrypt");
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(out.status.code())
        }
    }

    /// The data of an encrypted file, decrypted by sops.
    fn decrypt_data(&self, enc: &Path, ty: &str) -> Result<Data, Option<i32>> {
        self.decrypt_full(enc, ty).map(|(data, _)| data)
    }

    /// The data of an encrypted file and sops's plaintext in the file's own syntax.
    fn decrypt_full(&self, enc: &Path, ty: &str) -> Result<(Data, Vec<u8>), Option<i32>> {
        match ty {
            "yaml" => {
                // Several documents: sops's YAML emission (its JSON output holds only the
                // first document). One document: its JSON output, which does not depend on
                // where sops puts comments (but cannot hold an infinity: the emission then).
                let out = self.decrypt(enc, ty, "yaml")?;
                let text = String::from_utf8_lossy(&out);
                let emission = Data::Yaml(strip_comment_lines(&text));
                if text.lines().any(|l| l == "---") {
                    return Ok((emission, out));
                }
                match self
                    .decrypt(enc, ty, "json")
                    .map(|json| serde_json::from_slice::<Value>(&json))
                {
                    Ok(Ok(v)) => Ok((Data::Json(normalize(v)), out)),
                    _ => Ok((emission, out)),
                }
            }
            "json" => {
                let out = self.decrypt(enc, ty, "json")?;
                let v: Value = serde_json::from_slice(&out).map_err(|_| None)?;
                Ok((Data::Json(normalize(v)), out))
            }
            _ => {
                let out = self.decrypt(enc, ty, "dotenv")?;
                let pairs = dotenv_pairs(&String::from_utf8_lossy(&out)).ok_or(None)?;
                Ok((Data::Dotenv(pairs), out))
            }
        }
    }

    /// The data of a plaintext document as sops reads it.
    fn plain_data(&self, dir: &Path, text: &[u8], ty: &str) -> Result<Data, String> {
        match ty {
            "json" => serde_json::from_slice(text)
                .map(|v| Data::Json(normalize(v)))
                .map_err(|_| "not valid JSON".to_string()),
            "dotenv" => dotenv_pairs(&String::from_utf8_lossy(text))
                .map(Data::Dotenv)
                .ok_or_else(|| "not sops-readable dotenv".to_string()),
            _ => {
                let plain = dir.join("converted.yaml");
                std::fs::write(&plain, text).unwrap();
                let enc = self
                    .encrypt(&plain, ty)
                    .ok_or("sops cannot read the YAML".to_string())?;
                let enc_path = dir.join("converted.enc.yaml");
                std::fs::write(&enc_path, enc).unwrap();
                self.decrypt_data(&enc_path, ty)
                    .map_err(|c| format!("sops decrypt of its own file failed ({c:?})"))
            }
        }
    }
}

fn sealed_encrypt(key: &Key, plain: &Path, ty: &str) -> Result<Vec<u8>, String> {
    let out = common::sealed()
        .args(["encrypt", "--input-type", ty, "--age", &key.public])
        .arg(plain)
        .current_dir(plain.parent().unwrap())
        .output()
        .unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "sealed encrypt failed ({:?}): {}",
            out.status.code(),
            common::first_line(&out.stderr)
        ))
    }
}

fn sealed_decrypt(key_file: &Path, enc: &Path, ty: &str) -> Result<Vec<u8>, String> {
    let out = common::sealed()
        .args(["decrypt", "--input-type", ty])
        .arg(enc)
        .env("SOPS_AGE_KEY_FILE", key_file)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "sealed decrypt failed ({:?}): {}",
            out.status.code(),
            common::first_line(&out.stderr)
        ))
    }
}

/// Whether a YAML document has aliases (`*name`, merge keys included).
fn has_aliases(text: &str) -> bool {
    saphyr_parser::Parser::new_from_str(text)
        .any(|e| matches!(e, Ok((saphyr_parser::Event::Alias(_), _))))
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// Both directions checked.
    Checked,
    /// Only sops → sealed checked (aliases).
    OnlyB,
    /// sops itself cannot read the plaintext.
    NotForSops,
}

/// The two directions for one plaintext:
/// (a) `sealed encrypt` → `sops decrypt` gives what `sops encrypt` → `sops decrypt` gives;
/// (b) `sops encrypt` → `sealed decrypt` gives what `sops decrypt` gives.
/// sops verifies the MAC of sealed's file in (a), sealed verifies sops's in (b).
fn check_case(
    sops: &Sops,
    plain: &Path,
    ty: &str,
    skip_a: bool,
    skip_b: bool,
) -> Result<Outcome, String> {
    let dir = tempdir();
    let text = std::fs::read(plain).unwrap();
    let local = dir
        .path()
        .join(format!("plain.{}", if ty == "dotenv" { "env" } else { ty }));
    std::fs::write(&local, &text).unwrap();

    let Some(sops_enc) = sops.encrypt(&local, ty) else {
        return Ok(Outcome::NotForSops);
    };
    let sops_enc_path = dir.path().join(format!("sops.enc.{ty}"));
    std::fs::write(&sops_enc_path, &sops_enc).unwrap();
    let Ok((expected, sops_plain)) = sops.decrypt_full(&sops_enc_path, ty) else {
        return Ok(Outcome::NotForSops);
    };

    if !skip_b {
        let out =
            sealed_decrypt(&sops.key.path, &sops_enc_path, ty).map_err(|e| format!("(b) {e}"))?;
        // Byte-identical to sops's own output (the usual case), or else the same data.
        if out != sops_plain
            && sops
                .plain_data(dir.path(), &out, ty)
                .map_err(|e| format!("(b) sealed's output: {e}"))?
                != expected
        {
            return Err(
                "(b) sealed decrypt of sops's file gives other data than sops decrypt".into(),
            );
        }
    }

    let aliases = ty == "yaml" && has_aliases(&String::from_utf8_lossy(&text));
    if skip_a || aliases {
        return Ok(Outcome::OnlyB);
    }
    let enc = sealed_encrypt(&sops.key, &local, ty).map_err(|e| format!("(a) {e}"))?;
    let enc_path = dir.path().join(format!("sealed.enc.{ty}"));
    std::fs::write(&enc_path, &enc).unwrap();
    let got = sops
        .decrypt_data(&enc_path, ty)
        .map_err(|code| format!("(a) sops cannot decrypt sealed's file (exit {code:?})"))?;
    if got != expected {
        return Err("(a) sops decrypt of sealed's file gives other data than of its own".into());
    }
    Ok(Outcome::Checked)
}

/// Corpus cases whose plaintext sops's YAML parser (yaml.v3) reads differently from the
/// YAML specification, so no correct encryption of them can match what sops expects.
const SOPS_MISREADS: &[&str] = &[
    // `&an:chor value`: yaml.v3 ends the anchor at `:` and reads the value ":chor value".
    "yaml-test-suite/Y2GN/in.yaml",
    // `{ ?foo: bar }`: yaml.v3 reads the key as "foo", the specification as "?foo".
    "yaml-test-suite/652Z/in.yaml",
];

/// Known limits, excluded here and each checked by its own test below: (case, direction)
/// where direction is "a" or "b". 565N's `!!binary` values are refused by sealed
/// (`binary_values_sealed_cannot_hold_are_refused`).
const KNOWN_BUGS: &[(&str, &str)] = &[
    ("yaml-test-suite/565N/in.yaml", "a"),
    ("yaml-test-suite/565N/in.yaml", "b"),
];

fn is_known_bug(id: &str, dir: &str) -> bool {
    KNOWN_BUGS.iter().any(|(c, d)| *c == id && *d == dir)
}

/// The sops-compatible corpus: (id relative to the corpus, path, type).
fn corpus_cases(corpus: &Path) -> Vec<(String, PathBuf, &'static str)> {
    let mut cases = Vec::new();
    let rel = |p: &Path| {
        p.strip_prefix(corpus)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    for p in common::files_in(&corpus.join("helm-values")) {
        if p.extension().is_some_and(|e| e == "yaml") {
            cases.push((rel(&p), p, "yaml"));
        }
    }
    for p in common::files_in(&corpus.join("compose")) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            cases.push((rel(&p), p, "yaml"));
        } else if name.ends_with(".env") {
            cases.push((rel(&p), p, "dotenv"));
        }
    }
    for p in common::files_in(&corpus.join("dotenv")) {
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("dotenv")
        {
            cases.push((rel(&p), p, "dotenv"));
        }
    }
    for p in common::files_in(&corpus.join("json-test-suite")) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("y_") && std::fs::read(&p).unwrap().first() == Some(&b'{') {
            cases.push((rel(&p), p, "json"));
        }
    }
    for dir in yaml_suite_object_cases(&corpus.join("yaml-test-suite")) {
        let p = dir.join("in.yaml");
        cases.push((rel(&p), p, "yaml"));
    }
    cases
}

/// yaml-test-suite cases without `error` whose `in.json` documents are all objects.
fn yaml_suite_object_cases(suite: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(suite)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|d| {
            d.join("in.yaml").is_file() && !d.join("error").exists() && d.join("in.json").is_file()
        })
        .collect();
    dirs.sort();
    dirs.retain(|d| {
        let text = std::fs::read_to_string(d.join("in.json")).unwrap();
        let docs: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(&text)
            .into_iter()
            .collect();
        docs.is_ok_and(|docs| !docs.is_empty() && docs.iter().all(Value::is_object))
    });
    dirs
}

// ---------------------------------------------------------------------------------------

#[test]
fn fixtures_interoperate_with_sops() {
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let fixtures = common::plain_fixtures();
    let outcomes = std::sync::Mutex::new(Vec::new());
    let failures = common::par_check(&fixtures, |p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let o = check_case(&sops, p, common::input_type(p), false, false)
            .map_err(|e| format!("{name}: {e}"))?;
        outcomes.lock().unwrap().push((name, o));
        Ok(())
    });
    common::assert_no_failures("fixtures with sops", fixtures.len(), &failures);
    // Every fixture is checked both ways, except the .env files sops cannot read (a quoted
    // value over several lines; CRLF blank lines) and the one with aliases.
    for (name, o) in outcomes.into_inner().unwrap() {
        let expected = match name.as_str() {
            "basic.env" | "crlf.env" => Outcome::NotForSops,
            "styles.yaml" => Outcome::OnlyB,
            _ => Outcome::Checked,
        };
        assert_eq!(o, expected, "{name}");
    }
}

#[test]
fn corpus_interoperates_with_sops() {
    let Some(shared) = shared() else { return };
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let corpus = shared.join("corpus");
    let cases = corpus_cases(&corpus);
    assert!(
        cases.len() > 200,
        "corpus incomplete: {} cases",
        cases.len()
    );
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let failures = common::par_check(&cases, |(id, path, ty)| {
        if SOPS_MISREADS.contains(&id.as_str()) {
            return Ok(());
        }
        match check_case(
            &sops,
            path,
            ty,
            is_known_bug(id, "a"),
            is_known_bug(id, "b"),
        ) {
            Ok(Outcome::Checked) => {
                checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{id}: {e}")),
        }
    });
    common::assert_no_failures("corpus with sops", cases.len(), &failures);
    let checked = checked.into_inner();
    eprintln!(
        "{checked} of {} corpus files checked in both directions",
        cases.len()
    );
    assert!(
        checked >= 180,
        "only {checked} corpus files were checked both ways"
    );
}

/// One case, with no exclusion: used by the ignored tests of known bugs.
fn check_one(id: &str, ty: &str) {
    let Some(shared) = shared() else { return };
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let path = shared.join("corpus").join(id);
    let r = check_case(&sops, &path, ty, false, false);
    assert!(
        matches!(r, Ok(Outcome::Checked | Outcome::OnlyB)),
        "{id}: {r:?}"
    );
}

#[test]
#[ignore = "limit: !!binary values that are not UTF-8 text (sops encrypts the decoded bytes as a string; sealed keeps values as text), or written as block scalars (the tag would stay on the token): sealed refuses both ways, see binary_values_sealed_cannot_hold_are_refused"]
fn bug_binary_tag_is_not_sops_compatible() {
    check_one("yaml-test-suite/565N/in.yaml", "yaml");
}

/// The limit above is a clean refusal both ways, while a `!!binary` of UTF-8 text on the
/// tag's line is encrypted as sops does (its text).
#[test]
fn binary_values_sealed_cannot_hold_are_refused() {
    let Some(shared) = shared() else { return };
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let plain = dir.path().join("plain.yaml");
    std::fs::copy(shared.join("corpus/yaml-test-suite/565N/in.yaml"), &plain).unwrap();
    let e = sealed_encrypt(&sops.key, &plain, "yaml").unwrap_err();
    assert!(e.contains("!!binary value must be UTF-8 text"), "{e}");
    let enc = dir.path().join("sops.enc.yaml");
    std::fs::write(&enc, sops.encrypt(&plain, "yaml").unwrap()).unwrap();
    let e = sealed_decrypt(&sops.key.path, &enc, "yaml").unwrap_err();
    assert!(e.contains("(25)") && e.contains("not UTF-8 text"), "{e}");

    let text = dir.path().join("text.yaml");
    std::fs::write(
        &text,
        "a: !!binary aGVsbG8gd29ybGQ=\nb: !!binary \"aGk=\"\n",
    )
    .unwrap();
    assert_eq!(
        check_case(&sops, &text, "yaml", false, false),
        Ok(Outcome::Checked)
    );
}

/// sealed's one YAML scalar typer reads plain scalars as yaml.v3 does: Go's ParseFloat takes
/// a `_` between two digits only, so `.1_0` is the float 0.1 and `.1__0` a string (sealed's
/// outline once read it as a float), and sealed encrypts what sops encrypts.
#[test]
fn plain_scalars_are_typed_as_yaml_v3_types_them() {
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let plain = dir.path().join("typed.yaml");
    std::fs::write(
        &plain,
        "a: .1__0\nb: 1_0.5\nc: 0x1F\nd: .1_0e1_0\ne: 010\nf: ._5\ng: 1__0\n",
    )
    .unwrap();
    assert_eq!(
        check_case(&sops, &plain, "yaml", false, false),
        Ok(Outcome::Checked)
    );
    let enc = String::from_utf8(sealed_encrypt(&sops.key, &plain, "yaml").unwrap()).unwrap();
    let a = enc
        .lines()
        .find(|l| l.starts_with("a: "))
        .expect("a is in the file");
    assert!(a.ends_with(",type:str]"), "{a}");
}

#[test]
fn space_separated_timestamp_with_zone_stays_a_string() {
    check_one("yaml-test-suite/RZT7/in.yaml", "yaml");
}

#[test]
fn dotenv_bom_key_is_shared_with_sops() {
    check_one("dotenv/dotenv.bom", "dotenv");
}

/// sops stores a comment inside a sequence as an item holding a `type:comment` token; sealed
/// gives it back as a comment line (an empty sequence stays `[]`).
#[test]
fn sops_comment_items_in_sequences_decrypt_to_comments() {
    check_one("yaml-test-suite/5WE3/in.yaml", "yaml");
    check_one("helm-values/alertmanager.values.yaml", "yaml");
}

/// sops (yaml.v3) writes an empty flow mapping that holds comments as `key: {`, the
/// comments, then `}` at column 0, which YAML does not allow there; sealed reads it.
#[test]
fn sops_flow_mapping_with_comment_closed_at_column_0_is_read() {
    check_one(
        "helm-values/prometheus-pingmesh-exporter.values.yaml",
        "yaml",
    );
}

#[test]
fn yaml11_boolean_words_keep_their_quotes() {
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let plain = dir.path().join("compose.yaml");
    std::fs::write(&plain, "restart: \"no\"\nflag: 'yes'\nmode: \"on\"\n").unwrap();
    let enc = dir.path().join("enc.yaml");
    std::fs::write(&enc, sops.encrypt(&plain, "yaml").unwrap()).unwrap();
    let out = String::from_utf8(sealed_decrypt(&sops.key.path, &enc, "yaml").unwrap()).unwrap();
    for word in ["no", "yes", "on"] {
        assert!(
            !out.lines().any(|l| l.ends_with(&format!(": {word}"))),
            "{word:?} is unquoted in sealed's output"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Real sops files

/// The fixture identities, copied with mode 0600.
fn fixture_keys(dir: &Path, from: &Path) -> PathBuf {
    let path = dir.join(format!(
        "{}-keys.txt",
        from.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
    ));
    common::write_private(&path, &std::fs::read(from).unwrap());
    path
}

#[test]
fn real_sops_files_decrypt_to_their_plaintext() {
    let Some(shared) = shared() else { return };
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let fx = shared.join("sops-fixtures");
    let gen_dir = fx.join("generated-sops-3.11.0");
    let pr = fx.join("sops-pr1031-age");
    let gen_keys = fixture_keys(dir.path(), &gen_dir.join("keys.txt"));
    let pr_keys = fixture_keys(dir.path(), &pr.join("keys.txt"));
    let ssh_key = dir.path().join("ssh_ed25519_test_key");
    common::write_private(
        &ssh_key,
        &std::fs::read(gen_dir.join("ssh_ed25519_test_key")).unwrap(),
    );

    // (file, identities, plaintext it was made from)
    let cases: Vec<(PathBuf, &Path, Option<&str>)> = vec![
        (
            gen_dir.join("secrets.enc.yaml"),
            &gen_keys,
            Some("secrets.yaml"),
        ),
        (
            gen_dir.join("secrets.enc.json"),
            &gen_keys,
            Some("secrets.json"),
        ),
        (
            gen_dir.join("secrets.enc.env"),
            &gen_keys,
            Some("secrets.env"),
        ),
        (
            gen_dir.join("secrets.encregex.enc.yaml"),
            &gen_keys,
            Some("secrets.yaml"),
        ),
        (
            gen_dir.join("secrets.maconly.enc.yaml"),
            &gen_keys,
            Some("secrets.yaml"),
        ),
        (
            gen_dir.join("secrets.multidoc.enc.yaml"),
            &gen_keys,
            Some("multidoc.yaml"),
        ),
        (
            gen_dir.join("secrets.types.enc.yaml"),
            &gen_keys,
            Some("types.yaml"),
        ),
        (
            gen_dir.join("secrets.shamir-2of3.enc.yaml"),
            &gen_keys,
            None,
        ),
        (
            gen_dir.join("secrets.ssh-recipient.enc.env"),
            &ssh_key,
            Some("secrets.env"),
        ),
        (pr.join("example.yaml"), &pr_keys, None),
        (pr.join("example.json"), &pr_keys, None),
    ];
    for (file, keys, plain) in cases {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let ty = common::input_type(&file);
        let mut cmd = common::sealed();
        cmd.args(["decrypt", "--input-type", ty]).arg(&file);
        if keys == ssh_key {
            cmd.env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", keys);
        } else {
            cmd.env("SOPS_AGE_KEY_FILE", keys);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{name}: sealed decrypt failed: {}",
            common::first_line(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{name}: unexpected stderr");
        let work = tempdir();
        let got = sops
            .plain_data(work.path(), &out.stdout, ty)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The same data as sops's own decryption…
        let mut sops_cmd = sops.cmd(work.path());
        sops_cmd
            .args(["decrypt", "--input-type", ty, "--output-type", ty])
            .arg(&file);
        if keys == ssh_key {
            sops_cmd.env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", keys);
        } else {
            sops_cmd.env("SOPS_AGE_KEY_FILE", keys);
        }
        let sops_out = sops_cmd.output().unwrap();
        assert!(sops_out.status.success(), "{name}: sops decrypt failed");
        let want = sops.plain_data(work.path(), &sops_out.stdout, ty).unwrap();
        assert!(
            got == want,
            "{name}: sealed and sops decrypt to different data"
        );
        // …and as the plaintext the file was made from.
        if let Some(plain) = plain {
            let text = std::fs::read(gen_dir.join("plain").join(plain)).unwrap();
            let want = sops.plain_data(work.path(), &text, ty).unwrap();
            assert!(got == want, "{name}: differs from plain/{plain}");
        }
    }
}

#[test]
fn sealed_rejects_a_sops_file_with_an_altered_mac() {
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let plain = dir.path().join("p.yaml");
    std::fs::write(
        &plain,
        "user: demo-sopsmac-1\nregion_unencrypted: eu-west-1\n",
    )
    .unwrap();
    let enc = String::from_utf8(sops.encrypt(&plain, "yaml").unwrap()).unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(&file, &enc).unwrap();
    assert!(
        sealed_decrypt(&sops.key.path, &file, "yaml").is_ok(),
        "untouched file decrypts"
    );

    // The MAC token itself altered.
    let at = enc.find("mac: ENC[AES256_GCM,data:").unwrap() + "mac: ENC[AES256_GCM,data:".len();
    let c = if &enc[at..=at] == "A" { "B" } else { "A" };
    std::fs::write(&file, format!("{}{c}{}", &enc[..at], &enc[at + 1..])).unwrap();
    let out = common::sealed()
        .args(["decrypt"])
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", &sops.key.path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(51), "altered MAC");
    assert!(out.stdout.is_empty());

    // A clear value changed: the MAC no longer matches.
    std::fs::write(&file, enc.replace("eu-west-1", "eu-west-2")).unwrap();
    let out = common::sealed()
        .args(["decrypt"])
        .arg(&file)
        .env("SOPS_AGE_KEY_FILE", &sops.key.path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(51), "changed unencrypted value");
    assert!(out.stdout.is_empty());
}

#[test]
fn sops_checks_the_mac_of_sealed_files() {
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let plain = common::fixtures().join("plain/basic.yaml");
    let enc = String::from_utf8(sealed_encrypt(&sops.key, &plain, "yaml").unwrap()).unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(&file, &enc).unwrap();
    let out =
        String::from_utf8(sops.decrypt(&file, "yaml", "yaml").expect("sops decrypts")).unwrap();
    // Comments are encrypted as sops does it, and sops can read them back.
    assert!(out.contains("# Demo configuration for sealed: every value here is fake."));
    assert!(out.contains("the database password (demo-comment-4)"));
    // sops computes the same MAC: changing a clear value makes it fail.
    std::fs::write(
        &file,
        enc.replace(
            "region_unencrypted: eu-west-1",
            "region_unencrypted: eu-west-2",
        ),
    )
    .unwrap();
    assert!(
        sops.decrypt(&file, "yaml", "json").is_err(),
        "sops must reject the altered file"
    );
}

#[test]
fn sops_reads_sealed_selection_and_key_groups() {
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let b = common::keygen_in(dir.path(), "b.txt");
    let c = common::keygen_in(dir.path(), "c.txt");
    let src = "user: demo-sel-1\npassword: demo-sel-2\nport: 5432\nhost_public: db.example.org\n";
    let expected = serde_json::json!({
        "user": "demo-sel-1", "password": "demo-sel-2", "port": 5432.0, "host_public": "db.example.org"
    });
    let plain = dir.path().join("p.yaml");
    std::fs::write(&plain, src).unwrap();
    let variants: [&[&str]; 4] = [
        &["--encrypted-regex", "^pass"],
        &["--unencrypted-suffix", "_public"],
        &[
            "--mac-only-encrypted",
            "--encrypted-regex",
            "^(user|password)$",
        ],
        &["--unencrypted-regex", "^host"],
    ];
    for flags in variants {
        let out = common::sealed()
            .args(["encrypt", "--age", &sops.key.public])
            .args(flags)
            .arg(&plain)
            .output()
            .unwrap();
        assert!(out.status.success(), "{flags:?}");
        let file = dir.path().join("s.yaml");
        std::fs::write(&file, &out.stdout).unwrap();
        let json = sops
            .decrypt(&file, "yaml", "json")
            .unwrap_or_else(|c| panic!("{flags:?}: sops exit {c:?}"));
        let v = normalize(serde_json::from_slice(&json).unwrap());
        assert_eq!(v, expected, "{flags:?}");
    }

    // Shamir 2-of-3 written by sealed, read by sops with two of the identities.
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(
        repo.join(".sops.yaml"),
        format!(
            "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
            sops.key.public, b.public, c.public
        ),
    )
    .unwrap();
    let f = repo.join("s.yaml");
    std::fs::write(&f, src).unwrap();
    let out = common::sealed()
        .args(["encrypt", "-i"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "shamir encrypt");
    let two = dir.path().join("two.txt");
    let keys = format!(
        "{}{}",
        std::fs::read_to_string(&b.path).unwrap(),
        std::fs::read_to_string(&c.path).unwrap()
    );
    common::write_private(&two, keys.as_bytes());
    let out = sops
        .cmd(dir.path())
        .args(["decrypt", "--output-type", "json"])
        .arg(&f)
        .env("SOPS_AGE_KEY_FILE", &two)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sops decrypts sealed's Shamir file with 2 of 3 keys"
    );
    assert_eq!(
        normalize(serde_json::from_slice(&out.stdout).unwrap()),
        expected
    );
}

#[test]
fn sops_reads_sealed_dotenv_with_a_multiline_value() {
    // sops cannot read the plaintext (a quoted value spans lines), but once sealed has
    // encrypted it every value is on one line, and sops reads exactly what sealed stored.
    let dir = tempdir();
    let Some(sops) = Sops::new(dir.path()) else {
        return;
    };
    let plain = common::fixtures().join("plain/basic.env");
    let enc = sealed_encrypt(&sops.key, &plain, "dotenv").unwrap();
    let file = dir.path().join("s.env");
    std::fs::write(&file, enc).unwrap();
    let json = sops
        .decrypt(&file, "dotenv", "json")
        .expect("sops reads sealed's .env");
    let v: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        v["MULTI_LINE"],
        "\"demo-env-multi-6 first line\nsecond line\nthird line\""
    );
    assert_eq!(v["export EXPORTED_USER"], "demo-env-user-1");
    assert_eq!(v["SINGLE_QUOTED"], "'demo-env-single-2 with spaces'");
    assert_eq!(
        v["UNQUOTED"],
        "demo-env-plain-4 # an inline comment demo-env-comment-5"
    );
    assert_eq!(v["EMPTY"], "");
    assert_eq!(v["REGION_unencrypted"], "eu-west-1");
}
