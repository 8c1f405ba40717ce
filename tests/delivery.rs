//! `sealed decrypt --extract` and `--output-type` through the real binary: raw scalars and
//! subtrees, each output shape, `export` lines evaluated by a real POSIX shell, dotenv
//! output read back by `sealed exec`, and the errors.

mod common;

use std::process::Command;

use common::{Run, SANDBOX_SECRET as SECRET, Sandbox, bin};

impl Sandbox {
    fn decrypt(&self, args: &[&str]) -> Run {
        let mut all = vec!["decrypt"];
        all.extend(args);
        self.run(&all)
    }
}

const YAML: &str = "\
# settings
db:
  user: admin   # owner
  password: s3cr3t-Value-4217
  port: 5432
  mode: 0755
  ratio: 1.50
  ssl: true
  none: ~
hosts:
  - alpha
  - name: beta
    port: 6543
cert: |
  line one
  line two
";

#[test]
fn extract_scalars_raw() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", YAML);
    for (path, want) in [
        (r#"["db"]["password"]"#, SECRET),
        (r#"["db"]["port"]"#, "5432"),
        (r#"["db"]["mode"]"#, "0755"),
        (r#"["db"]["ssl"]"#, "true"),
        (r#"["db"]["none"]"#, ""),
        (r#"["hosts"][0]"#, "alpha"),
        (r#"['hosts'][1]['port']"#, "6543"),
        (r#"["cert"]"#, "line one\nline two\n"),
    ] {
        assert_eq!(
            sb.decrypt(&["--extract", path, "s.yaml"]).ok(),
            want,
            "{path}"
        );
    }
}

#[test]
fn extract_subtrees_in_the_files_format_or_the_output_type() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", YAML);
    assert_eq!(
        sb.decrypt(&["--extract", r#"["db"]"#, "s.yaml"]).ok(),
        "user: admin\npassword: s3cr3t-Value-4217\nport: 5432\nmode: 493\nratio: 1.50\nssl: true\nnone: null\n"
    );
    assert_eq!(
        sb.decrypt(&["--extract", r#"["hosts"]"#, "s.yaml"]).ok(),
        "- alpha\n- name: beta\n  port: 6543\n"
    );
    assert_eq!(
        sb.decrypt(&[
            "--extract",
            r#"["hosts"][1]"#,
            "--output-type",
            "json",
            "s.yaml"
        ])
        .ok(),
        "{\n\t\"name\": \"beta\",\n\t\"port\": 6543\n}\n"
    );
    sb.encrypt(
        "s.json",
        "{\"db\": {\"password\": \"s3cr3t-Value-4217\", \"ids\": [1, 2.50]}}",
    );
    assert_eq!(
        sb.decrypt(&["--extract", r#"["db"]"#, "s.json"]).ok(),
        "{\n\t\"password\": \"s3cr3t-Value-4217\",\n\t\"ids\": [\n\t\t1,\n\t\t2.50\n\t]\n}\n"
    );
    assert_eq!(
        sb.decrypt(&[
            "--extract",
            r#"["db"]"#,
            "--output-type",
            "export",
            "s.json"
        ])
        .ok(),
        "export PASSWORD='s3cr3t-Value-4217'\nexport IDS_0='1'\nexport IDS_1='2.50'\n"
    );
}

#[test]
fn extract_errors() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", YAML);
    sb.decrypt(&["--extract", r#"["db"]["nope"]"#, "s.yaml"])
        .fails(1, r#"sealed: s.yaml: --extract: ["db"]["nope"] not found"#);
    sb.decrypt(&["--extract", r#"["hosts"][9]"#, "s.yaml"])
        .fails(1, r#"--extract: ["hosts"][9] not found"#);
    // A malformed path is reported before the file is even read.
    sb.decrypt(&["--extract", "db.password", "missing.yaml"])
        .fails(1, "invalid --extract path at character 1: expected '['");
    sb.decrypt(&["--extract", r#"["db"]"#, "-i", "s.yaml"])
        .fails(
            8,
            "--in-place cannot be used with --extract or --output-type",
        );
    let multi = sb.encrypt("m.yaml", "a: s3cr3t-Value-4217\n---\nb: 2\n");
    assert!(multi.exists());
    sb.decrypt(&["--extract", r#"["a"]"#, "m.yaml"])
        .fails(1, "m.yaml: the file holds 2 YAML documents");
}

#[test]
fn output_json_keeps_types() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", YAML);
    let out = sb.decrypt(&["--output-type", "json", "s.yaml"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["db"]["password"], SECRET);
    assert_eq!(v["db"]["port"], 5432);
    assert_eq!(v["db"]["mode"], 493, "0755 is octal to yaml.v3, as to sops");
    assert_eq!(v["db"]["ratio"], 1.5);
    assert!(out.contains("\"ratio\": 1.50"), "number text kept");
    assert_eq!(v["db"]["ssl"], true);
    assert!(v["db"]["none"].is_null());
    assert_eq!(v["hosts"][1]["port"], 6543);
    assert_eq!(v["cert"], "line one\nline two\n");
    let keys: Vec<&String> = v["db"].as_object().expect("map").keys().collect();
    assert_eq!(
        keys,
        ["user", "password", "port", "mode", "ratio", "ssl", "none"]
    );
}

#[test]
fn output_yaml_reads_back_to_the_same_data() {
    let sb = Sandbox::new();
    sb.encrypt("s.json", "{\"a\": {\"b\": [1, \"two\", null, true, {\"c\": \"multi\\nline\\n\"}]}, \"q\": \"it's: \\\"x\\\" #y\", \"num\": \"123\"}\n");
    let yaml = sb.decrypt(&["--output-type", "yaml", "s.json"]).ok();
    assert_eq!(
        yaml,
        "a:\n  b:\n    - 1\n    - two\n    - null\n    - true\n    - c: |\n        multi\n        line\nq: \"it's: \\\"x\\\" #y\"\nnum: \"123\"\n"
    );
    // Encrypting the YAML and converting back gives the same JSON data.
    sb.encrypt("back.yaml", &yaml);
    let json = sb.decrypt(&["--output-type", "json", "back.yaml"]).ok();
    let orig = sb.decrypt(&["s.json"]).ok();
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("JSON");
    assert_eq!(parse(&json), parse(&orig));
}

#[test]
fn same_output_type_gives_the_exact_bytes() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", YAML);
    assert_eq!(sb.decrypt(&["--output-type", "yaml", "s.yaml"]).ok(), YAML);
    let env = "# c\nexport A = 'x'   # note\nB=\"y\\nz\"\n";
    sb.encrypt("s.env", env);
    assert_eq!(sb.decrypt(&["--output-type", "dotenv", "s.env"]).ok(), env);
}

/// Values that are hard to quote.
const NASTY: &[(&str, &str)] = &[
    ("SINGLE", "it's"),
    ("DOUBLE", "say \"hi\""),
    ("DOLLAR", "$HOME ${PATH} $(id) `id`"),
    ("BACKSLASH", "C:\\new\\table \\ end\\"),
    ("NEWLINES", "line 1\nline 2\n\nline 4\n"),
    ("MIXED", "'\"$\\\n'\\''"),
    ("HASH", "a #b"),
    ("EMPTY", ""),
    ("SPACES", "  padded  "),
    ("UNICODE", "ünï ✓"),
];

/// A JSON document holding `NASTY`.
fn nasty_json() -> String {
    let map: serde_json::Map<String, serde_json::Value> = NASTY
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// A shell script printing each `NASTY` variable as `<value>|`.
fn nasty_printer() -> String {
    NASTY
        .iter()
        .map(|(k, _)| format!("printf '%s|' \"${k}\"; "))
        .collect()
}

fn nasty_expected() -> String {
    NASTY.iter().map(|(_, v)| format!("{v}|")).collect()
}

#[test]
fn export_lines_round_trip_through_eval_in_a_posix_shell() {
    let sb = Sandbox::new();
    sb.encrypt("n.json", &nasty_json());
    let script = format!(
        "eval \"$(\"$SEALED\" decrypt --output-type export n.json)\" || exit 9; {}",
        nasty_printer()
    );
    // `eval` in a plain POSIX shell: nothing in a value is expanded or run.
    let out = Command::new("sh")
        .current_dir(sb.dir.path())
        .env("SOPS_AGE_KEY_FILE", sb.path("key.txt"))
        .env("HOME", sb.dir.path())
        .env("SEALED", bin())
        .args(["-c", &script])
        .output()
        .expect("run sh");
    assert_eq!(String::from_utf8_lossy(&out.stdout), nasty_expected());
}

#[test]
fn dotenv_output_is_read_back_by_sealed_exec() {
    let sb = Sandbox::new();
    sb.encrypt("n.json", &nasty_json());
    let dotenv = sb.decrypt(&["--output-type", "dotenv", "n.json"]).ok();
    assert_eq!(
        dotenv.lines().count(),
        NASTY.len(),
        "one line per value:\n{dotenv}"
    );
    sb.encrypt("n.env", &dotenv);
    let out = sb
        .sealed()
        .args(["exec", "-f", "n.env", "--", "sh", "-c", &nasty_printer()])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), nasty_expected());
}

#[test]
fn dotenv_output_flattens_like_exec() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", YAML);
    assert_eq!(
        sb.decrypt(&["--output-type", "dotenv", "s.yaml"]).ok(),
        "DB_USER=admin\nDB_PASSWORD=s3cr3t-Value-4217\nDB_PORT=5432\nDB_MODE=0755\nDB_RATIO=1.50\nDB_SSL=true\nDB_NONE=\nHOSTS_0=alpha\nHOSTS_1_NAME=beta\nHOSTS_1_PORT=6543\nCERT=\"line one\\nline two\\n\"\n"
    );
}

#[test]
fn output_errors_print_nothing() {
    let sb = Sandbox::new();
    sb.encrypt(
        "c.yaml",
        "db:\n  password: s3cr3t-Value-4217\ndb_password: x\n",
    );
    sb.decrypt(&["--output-type", "dotenv", "c.yaml"]).fails(
        1,
        "c.yaml: 'db.password' and 'db_password' both become the variable DB_PASSWORD",
    );
    sb.encrypt("k.env", "my.key=s3cr3t-Value-4217\n");
    sb.decrypt(&["--output-type", "export", "k.env"])
        .fails(1, "k.env: \"my.key\" is not a shell variable name");
    let before = std::fs::read(sb.path("k.env")).expect("read");
    sb.decrypt(&["--output-type", "json", "-i", "k.env"])
        .fails(8, "--in-place cannot be used");
    assert_eq!(std::fs::read(sb.path("k.env")).expect("read"), before);
    let run = sb.decrypt(&["--output-type", "toml", "k.env"]);
    assert_eq!(run.code, Some(2), "clap lists the valid values");
    assert!(
        run.stderr.contains("json, yaml, dotenv, export"),
        "{}",
        run.stderr
    );
}

#[test]
fn output_file_gets_the_converted_shape() {
    let sb = Sandbox::new();
    sb.encrypt("s.yaml", "a:\n  b: s3cr3t-Value-4217\n");
    sb.decrypt(&["--output-type", "export", "-o", "out.sh", "s.yaml"])
        .ok();
    assert_eq!(
        std::fs::read_to_string(sb.path("out.sh")).expect("read"),
        "export A_B='s3cr3t-Value-4217'\n"
    );
}
