//! `sealed exec-env`, `exec-file` and `filestatus` (sops's spellings, issue 16) through
//! the real binary and real child processes, compared with the real `sops` where it is
//! installed: the same command line gives the same output and exit status.

use std::path::Path;
use std::process::{Command, Stdio};

mod common;

use common::{Run, SANDBOX_SECRET as SECRET, Sandbox};

/// A file whose bytes sops writes back as they are.
const FLAT: &str = "api_key: s3cr3t-Value-4217\nport: 5432\n";

const YAML: &str = "api_key: s3cr3t-Value-4217\nport: 5432\nflag: true\nmulti: |\n  one\n  two\n";

impl Sandbox {
    /// The real sops in the sandbox, with the sandbox's key; `None` when not installed.
    fn sops(&self, args: &[&str]) -> Option<Run> {
        let sops = common::peer("sops")?;
        let out = Command::new(sops)
            .args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("SOPS_AGE_KEY_FILE", self.path("key.txt"))
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_RECIPIENTS")
            .output()
            .expect("run sops");
        Some(Run {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).expect("utf-8"),
            stderr: String::from_utf8(out.stderr).expect("utf-8"),
        })
    }

    /// `name` encrypted by the real sops (the plaintext stays in `plain/`).
    fn sops_encrypt(&self, name: &str, plain: &str) -> Option<()> {
        let dir = self.path("plain");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(name), plain).expect("write");
        let src = format!("plain/{name}");
        let run = self.sops(&["encrypt", "--age", &self.recipient, &src])?;
        assert_eq!(run.code, Some(0), "sops encrypt: {}", run.stderr);
        std::fs::write(self.path(name), run.stdout).expect("write");
        Some(())
    }
}

#[test]
fn exec_env_names_variables_by_their_top_level_keys_as_sops_does() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    let cmd = r#"printf '[%s]\n' "$api_key" "$port" "$flag" "$multi" "${API_KEY-unset}"; exit 3"#;
    let run = sb.run(&["exec-env", "app.yaml", cmd]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("[{SECRET}]\n[5432]\n[true]\n[one\ntwo\n]\n[unset]\n")
    );
    assert_eq!(run.stderr, "");
    if let Some(sops) = sb.sops(&["exec-env", "app.yaml", cmd]) {
        assert_eq!(sops.code, Some(3));
        assert_eq!(sops.stdout, run.stdout, "sops and sealed differ");
    }
}

#[test]
fn exec_env_refuses_a_nested_value_as_sops_does() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", "db:\n  password: s3cr3t-Value-4217\n");
    sb.run(&["exec-env", "app.yaml", "echo started"]).fails(
        1,
        "cannot use complex value in environment; offending key db",
    );
    if let Some(sops) = sb.sops(&["exec-env", "app.yaml", "echo started"]) {
        assert_eq!(sops.code, Some(1));
        assert_eq!(sops.stdout, "");
    }
}

#[test]
fn exec_env_pristine_passes_only_the_values() {
    let sb = Sandbox::new();
    sb.encrypt("app.env", "api_key=s3cr3t-Value-4217\n");
    let cmd = "echo \"[${api_key}][${OUTER-unset}]\"";
    let out = sb
        .sealed()
        .args(["exec-env", "--pristine", "app.env", cmd])
        .env("OUTER", "outer")
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("[{SECRET}][unset]\n")
    );
    let out = sb
        .sealed()
        .args(["exec-env", "app.env", cmd])
        .env("OUTER", "outer")
        .output()
        .expect("run");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("[{SECRET}][outer]\n")
    );
    if let Some(sops) = sb.sops(&["exec-env", "--pristine", "app.env", cmd]) {
        assert_eq!(sops.stdout, format!("[{SECRET}][unset]\n"));
    }
}

#[test]
fn exec_env_same_process_becomes_the_shell() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    let child = sb
        .sealed()
        .args(["exec-env", "--same-process", "app.yaml", "echo $$"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{pid}\n"));
    // Without it, the shell is sealed's child.
    let child = sb
        .sealed()
        .args(["exec-env", "app.yaml", "echo $PPID"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{pid}\n"));
}

#[test]
fn exec_env_user_runs_the_command_as_that_user() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    let cmd = "echo \"$(id -u) $USER $LOGNAME $port\"";
    let run = sb.run(&["exec-env", "--user", "nobody", "app.yaml", cmd]);
    if nix::unistd::geteuid().is_root() {
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        assert_eq!(run.stdout, format!("{} nobody nobody 5432\n", nobody.uid));
    } else {
        run.fails(1, "--user nobody: cannot become this user");
    }
    sb.run(&["exec-env", "--user", "no-such-user-x", "app.yaml", cmd])
        .fails(1, "--user no-such-user-x: no such user");
}

#[test]
fn a_weak_value_in_exec_env_never_replaces_a_variable_nor_steers_loading() {
    let sb = Sandbox::new();
    if sb.sops_encrypt("app.yaml", YAML).is_none() {
        return;
    }
    // An editor without the key adds null values: the MAC does not cover them.
    let cipher = std::fs::read_to_string(sb.path("app.yaml")).unwrap();
    std::fs::write(
        sb.path("app.yaml"),
        format!("PATH: ~\nLD_PRELOAD: ~\nouter: ~\n{cipher}"),
    )
    .unwrap();
    let cmd = "echo \"[${PATH:+path}][${LD_PRELOAD-unset}][$outer][$port]\"";
    let out = sb
        .sealed()
        .args(["exec-env", "app.yaml", cmd])
        .env("outer", "kept")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[path][unset][kept][5432]\n"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for name in ["PATH", "LD_PRELOAD", "outer"] {
        assert!(err.contains(&format!("{name} is not set")), "{err}");
    }
}

/// Runs `sealed exec-file ARGS` and returns (stdout, stderr, code).
fn exec_file(sb: &Sandbox, args: &[&str]) -> Run {
    let mut all = vec!["exec-file"];
    all.extend(args);
    sb.run(&all)
}

#[test]
fn exec_file_gives_a_fifo_by_default_and_a_file_with_no_fifo() {
    let sb = Sandbox::new();
    // sops re-indents YAML (the block scalar of FLAT): a flat file reads the same.
    sb.encrypt("app.yaml", FLAT);
    let run = exec_file(&sb, &["app.yaml", "test -p {} && echo {} && cat {}"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let (path, content) = run.stdout.split_once('\n').unwrap();
    assert_eq!(content, FLAT);
    assert!(path.ends_with("/tmp-file"), "{path}");
    assert!(!Path::new(path).exists(), "{path} is left behind");
    let run = exec_file(
        &sb,
        &["--no-fifo", "app.yaml", "test -f {} && cat {} {}; exit 4"],
    );
    assert_eq!(run.code, Some(4), "{}", run.stderr);
    assert_eq!(run.stdout, format!("{FLAT}{FLAT}"));
    if let Some(sops) = sb.sops(&["exec-file", "app.yaml", "test -p {} && cat {}"]) {
        assert_eq!(sops.stdout, FLAT, "sops and sealed differ");
    }
}

#[test]
fn exec_file_filename_and_output_type_as_sops() {
    let sb = Sandbox::new();
    sb.encrypt("app.yaml", YAML);
    let args = [
        "--output-type",
        "json",
        "--filename",
        "app.json",
        "app.yaml",
        "basename {}; cat {}",
    ];
    let run = exec_file(&sb, &args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("app.json\n{"), "{}", run.stdout);
    if let Some(sops) = sb.sops(&[&["exec-file"][..], &args].concat()) {
        assert_eq!(sops.stdout, run.stdout, "sops and sealed differ");
    }
    exec_file(&sb, &["--filename", "../x", "app.yaml", "cat {}"]).fails(1, "not a local path");
}

#[test]
fn filestatus_prints_what_sops_prints() {
    let sb = Sandbox::new();
    sb.encrypt("sealed.yaml", YAML);
    std::fs::write(sb.path("plain.yaml"), YAML).unwrap();
    std::fs::write(sb.path("bad.json"), "{bad").unwrap();
    let have_sops = sb.sops_encrypt("sops.yaml", YAML).is_some();
    for (file, want) in [
        ("sealed.yaml", "{\"encrypted\":true}\n"),
        ("plain.yaml", "{\"encrypted\":false}\n"),
        ("sops.yaml", "{\"encrypted\":true}\n"),
    ] {
        if file == "sops.yaml" && !have_sops {
            continue;
        }
        let run = sb.run(&["filestatus", file]);
        assert_eq!(run.code, Some(0), "{file}: {}", run.stderr);
        assert_eq!(run.stdout, want, "{file}");
        if let Some(sops) = sb.sops(&["filestatus", file]) {
            assert_eq!(sops.stdout, want, "sops on {file}");
        }
    }
    for file in ["missing.yaml", "bad.json"] {
        sb.run(&["filestatus", file])
            .fails(1, "cannot check file status");
        if let Some(sops) = sb.sops(&["filestatus", file]) {
            assert_eq!(sops.code, Some(1), "sops on {file}");
        }
    }
}
