//! age plugins (issue 17): recipients `age1<name>1…` and identities `AGE-PLUGIN-<NAME>-1…`
//! with a real plugin, `age-plugin-sealedtest` (tests/plugin/, built on rage's `age-plugin`
//! crate), which speaks the age plugin protocol, counts its runs and can ask for a PIN.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{Key, keygen_in, peer, tempdir};

const PLAIN: &str = "# app\npassword: fake-plugin-pass-1\nport: 5432\n";

/// The directory holding `age-plugin-sealedtest`, built once per test run (cargo is quick
/// when it is up to date; `cargo test` builds it with the other targets anyway).
fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let out = Command::new(cargo)
            .current_dir(common::root())
            .args(["build", "--quiet", "--example", "age-plugin-sealedtest"])
            .output()
            .expect("run cargo build --example age-plugin-sealedtest");
        assert!(
            out.status.success(),
            "building the test plugin failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = common::bin().parent().unwrap().join("examples");
        assert!(dir.join("age-plugin-sealedtest").is_file());
        dir
    })
}

/// PATH with the test plugin on it.
fn path_with_plugin() -> String {
    format!("{}:{}", plugin_dir().display(), common::path_var())
}

/// A plugin identity: its file (mode 0600) and recipient.
fn plugin_key(dir: &Path, name: &str) -> Key {
    let out = Command::new(plugin_dir().join("age-plugin-sealedtest"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# recipient: "))
        .unwrap()
        .to_owned();
    assert!(public.starts_with("age1sealedtest1"));
    let path = dir.join(name);
    common::write_private(&path, text.as_bytes());
    Key { path, public }
}

/// A temporary directory with a plugin key, an X25519 key and the plugin's log.
struct Env {
    tmp: tempfile::TempDir,
    plugin: Key,
    x: Key,
    log: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = tempdir();
        let plugin = plugin_key(tmp.path(), "plugin.txt");
        let x = keygen_in(tmp.path(), "x.txt");
        let log = tmp.path().join("plugin.log");
        Env {
            tmp,
            plugin,
            x,
            log,
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// sealed in the temporary directory, the plugin on PATH, its log set, no identity.
    fn sealed(&self) -> Command {
        let mut c = Command::new(common::bin());
        c.env_clear()
            .env("PATH", path_with_plugin())
            .env("HOME", common::empty_home())
            .env("SEALEDTEST_LOG", &self.log)
            .current_dir(self.tmp.path());
        c
    }

    fn with_key(&self, key: &Key) -> Command {
        let mut c = self.sealed();
        c.env("SOPS_AGE_KEY_FILE", &key.path);
        c
    }

    /// The plugin's runs and requests since the last call (and forgets them), without the
    /// process ids.
    fn runs(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text.lines()
            .map(|l| l.split(' ').next().unwrap_or_default().to_owned())
            .collect()
    }

    fn encrypt(&self, name: &str, recipients: &str) -> PathBuf {
        let path = self.p(name);
        std::fs::write(&path, PLAIN).unwrap();
        ok(self
            .sealed()
            .args(["encrypt", "-i", "--age", recipients])
            .arg(&path)
            .output()
            .unwrap());
        path
    }
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn encrypt_to_a_plugin_recipient_and_decrypt_with_its_identity_from_every_source() {
    let env = Env::new();
    let file = env.encrypt("app.yaml", &env.plugin.public);
    assert_eq!(env.runs(), ["recipient-v1"], "one plugin run to wrap");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("recipient: {}", env.plugin.public)));
    assert!(!text.contains("fake-plugin-pass-1"));

    // A keys file (SOPS_AGE_KEY_FILE).
    let out = env.with_key(&env.plugin).arg("decrypt").arg(&file).output();
    assert_eq!(ok(out.unwrap()), PLAIN);
    assert_eq!(env.runs(), ["identity-v1"]);
    // SOPS_AGE_KEY, and SOPS_AGE_KEY_CMD's output.
    let identity = std::fs::read_to_string(&env.plugin.path).unwrap();
    let out = env
        .sealed()
        .env("SOPS_AGE_KEY", &identity)
        .arg("decrypt")
        .arg(&file)
        .output();
    assert_eq!(ok(out.unwrap()), PLAIN);
    let cmd = format!("cat '{}'", env.plugin.path.display());
    let out = env
        .sealed()
        .env("SOPS_AGE_KEY_CMD", cmd)
        .arg("decrypt")
        .arg(&file)
        .output();
    assert_eq!(ok(out.unwrap()), PLAIN);
    // Another plugin identity does not open it (the plugin runs and says no).
    let other = plugin_key(env.tmp.path(), "other.txt");
    let out = env
        .with_key(&other)
        .arg("decrypt")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains(&env.plugin.public),
        "{}",
        stderr(&out)
    );
}

/// A file for an X25519 key and a plugin key: the X25519 identity opens it without starting
/// the plugin, even with a plugin identity beside it; the plugin identity alone opens it.
#[test]
fn mixed_with_x25519_the_plugin_runs_only_when_needed() {
    let env = Env::new();
    let file = env.encrypt(
        "mixed.yaml",
        &format!("{},{}", env.x.public, env.plugin.public),
    );
    env.runs();
    let both = env.p("both.txt");
    let text = std::fs::read_to_string(&env.plugin.path).unwrap()
        + &std::fs::read_to_string(&env.x.path).unwrap();
    common::write_private(&both, text.as_bytes());
    for key in [&both, &env.x.path] {
        let out = env
            .sealed()
            .env("SOPS_AGE_KEY_FILE", key)
            .arg("decrypt")
            .arg(&file)
            .output();
        assert_eq!(ok(out.unwrap()), PLAIN);
        assert_eq!(env.runs(), Vec::<String>::new(), "the plugin was started");
    }
    let out = env.with_key(&env.plugin).arg("decrypt").arg(&file).output();
    assert_eq!(ok(out.unwrap()), PLAIN);
    assert!(env.runs().contains(&"identity-v1".to_owned()));
    // Set works through the plugin too, and the X25519 key still opens the result.
    ok(env
        .with_key(&env.plugin)
        .args(["set"])
        .arg(&file)
        .args(["[\"port\"]", "6543"])
        .output()
        .unwrap());
    let out = env.with_key(&env.x).arg("decrypt").arg(&file).output();
    assert!(ok(out.unwrap()).contains("port: 6543"));
}

#[test]
fn a_missing_plugin_binary_is_one_clear_line() {
    let env = Env::new();
    let file = env.encrypt("app.yaml", &env.plugin.public);
    let before = std::fs::read(&file).unwrap();
    let want = "`age-plugin-sealedtest` not found on PATH: install the plugin, or add its directory to PATH";
    // Decrypt: the identity names a plugin that is not installed.
    let out = env
        .with_key(&env.plugin)
        .env("PATH", common::path_var())
        .args(["decrypt", "-i"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("app.yaml") && err.contains(want), "{err}");
    assert!(!err.contains("SEALEDTEST-1"), "identity shown: {err}");
    assert_eq!(std::fs::read(&file).unwrap(), before, "the file changed");
    // Encrypt: the recipient names it.
    let plain = env.p("new.yaml");
    std::fs::write(&plain, PLAIN).unwrap();
    let out = env
        .sealed()
        .env("PATH", common::path_var())
        .args(["encrypt", "-i", "--age", &env.plugin.public])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("new.yaml") && err.contains(want), "{err}");
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), PLAIN);
    // The fix the message suggests: with the plugin on PATH it works.
    let out = env.with_key(&env.plugin).arg("decrypt").arg(&file).output();
    assert_eq!(ok(out.unwrap()), PLAIN);
}

/// The plugin asks for a PIN: without a terminal the request is refused (never read from
/// stdin, which holds the document); on a terminal (a pty here) the user's answer reaches
/// it. A "touch" message goes to the terminal, or to stderr without one.
#[test]
fn plugin_prompts_reach_the_terminal_never_stdin() {
    let env = Env::new();
    let file = env.encrypt("app.yaml", &env.plugin.public);
    env.runs();
    // No terminal (setsid: no controlling one), a PIN on stdin: refused.
    let Some(setsid) = peer("setsid") else { return };
    let mut c = env.with_key(&env.plugin);
    c.env("SEALEDTEST_PIN", "4242").env("SEALEDTEST_TOUCH", "1");
    let out = Command::new(&setsid)
        .arg("-w")
        .arg(common::bin())
        .args(["decrypt", "--input-type", "yaml", "/dev/stdin"])
        .env_clear()
        .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(env.tmp.path())
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("sealed: age-plugin-sealedtest: touch your sealedtest key"),
        "{err}"
    );
    assert!(err.contains("wrong or missing PIN"), "{err}");
    assert_eq!(env.runs(), ["identity-v1", "touch", "pin"]);

    // On a terminal: python3's pty gives sealed one, and types the PIN at the prompt.
    let Some(python) = peer("python3") else {
        return;
    };
    let script = r#"
import os, pty, select, sys, termios
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
typed = False
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    seen += data
    if not typed and b"PIN of your sealedtest key: " in seen:
        # Type once echo is off (the pty master sees the terminal's modes), as a person
        # would: typing earlier races the prompt's switch.
        while termios.tcgetattr(fd)[3] & termios.ECHO:
            select.select([], [], [], 0.01)
        os.write(fd, b"4242\n")
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(seen)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut c = env.with_key(&env.plugin);
    c.env("SEALEDTEST_PIN", "4242").env("SEALEDTEST_TOUCH", "1");
    let out = Command::new(python)
        .args(["-c", script])
        .arg(common::bin())
        .args(["decrypt"])
        .arg(&file)
        .env_clear()
        .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(env.tmp.path())
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(out.status.success(), "{seen}{}", stderr(&out));
    assert!(
        seen.contains("sealed: age-plugin-sealedtest: touch your sealedtest key\n"),
        "{seen}"
    );
    assert!(
        seen.contains("sealed: age-plugin-sealedtest: Enter the PIN of your sealedtest key: "),
        "{seen}"
    );
    assert!(seen.contains("fake-plugin-pass-1"), "{seen}");
    assert!(!seen.contains("4242"), "the PIN was echoed: {seen}");
}

/// sops 3.11 speaks the same plugin protocol: files go both ways.
#[test]
fn sops_and_sealed_exchange_plugin_files() {
    let Some(sops) = peer("sops") else { return };
    let env = Env::new();
    let sops_cmd = |key: &Key| {
        let mut c = Command::new(&sops);
        c.env_clear()
            .env("PATH", path_with_plugin())
            .env("HOME", common::empty_home())
            .env("SEALEDTEST_LOG", &env.log)
            .env("SOPS_AGE_KEY_FILE", &key.path)
            .current_dir(env.tmp.path());
        c
    };
    // sops encrypts to the plugin recipient (and an X25519 one); sealed opens it with the
    // plugin identity.
    std::fs::write(env.p("plain.yaml"), PLAIN).unwrap();
    let enc = ok(sops_cmd(&env.plugin)
        .args(["encrypt", "--age"])
        .arg(format!("{},{}", env.plugin.public, env.x.public))
        .arg("plain.yaml")
        .output()
        .unwrap());
    assert!(enc.contains(&env.plugin.public));
    std::fs::write(env.p("by-sops.yaml"), &enc).unwrap();
    let out = env
        .with_key(&env.plugin)
        .args(["decrypt", "by-sops.yaml"])
        .output();
    assert_eq!(ok(out.unwrap()), PLAIN);
    // sealed encrypts; sops opens it with the plugin identity.
    let file = env.encrypt("by-sealed.yaml", &env.plugin.public);
    env.runs();
    let out = sops_cmd(&env.plugin).arg("decrypt").arg(&file).output();
    assert_eq!(ok(out.unwrap()), PLAIN);
    assert_eq!(env.runs(), ["identity-v1"], "sops ran our plugin");
}

/// A valid-looking plugin recipient for plugin `name` (Bech32, 32 bytes).
fn recipient_of(name: &str) -> String {
    let hrp = bech32::Hrp::parse(&format!("age1{name}")).unwrap();
    bech32::encode::<bech32::Bech32>(hrp, &[7u8; 32]).unwrap()
}

/// An editor adds an entry whose recipient names another plugin, `age-plugin-evil`, which
/// is installed: decrypt, rotate (with and without --keep-file-recipients), team add and
/// updatekeys never start it; only the user's identities and .sops.yaml choose plugins.
#[test]
fn a_tampered_recipient_naming_another_plugin_is_never_started() {
    let env = Env::new();
    let bin = env.p("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let started = env.p("evil-started");
    let evil = bin.join("age-plugin-evil");
    std::fs::write(
        &evil,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexit 1\n",
            started.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), path_with_plugin());

    std::fs::write(
        env.p(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: rule\\.yaml$\n    age: {},{}\n",
            env.x.public, env.plugin.public
        ),
    )
    .unwrap();
    let evil_r = recipient_of("evil");
    for name in ["rule.yaml", "norule.yaml"] {
        let file = env.encrypt(name, &format!("{},{}", env.x.public, env.plugin.public));
        // The editor: another entry, with the X25519 entry's enc, labelled for plugin evil.
        let text = std::fs::read_to_string(&file).unwrap();
        let at = text.find("        - recipient: ").unwrap();
        let end = text[at + 10..].find("        - recipient: ").unwrap() + at + 10;
        let entry = &text[at..end];
        let label = entry.lines().next().unwrap();
        let forged = entry.replacen(label, &format!("        - recipient: {evil_r}"), 1);
        let tampered = format!("{}{forged}{}", &text[..at], &text[at..]);
        std::fs::write(&file, tampered).unwrap();
    }
    env.runs();
    let run = |key: &Key, args: &[&str]| {
        let out = env
            .with_key(key)
            .env("PATH", &path)
            .args(args)
            .output()
            .unwrap();
        assert!(!started.exists(), "sealed {args:?} started age-plugin-evil");
        out
    };
    for key in [&env.x, &env.plugin] {
        for name in ["rule.yaml", "norule.yaml"] {
            assert_eq!(ok(run(key, &["decrypt", name])), PLAIN);
        }
    }
    // Without --keep-file-recipients it is dropped; with it, still never wrapped to.
    let out = run(
        &env.plugin,
        &["rotate", "--keep-file-recipients", "rule.yaml"],
    );
    ok(out.clone());
    let err = stderr(&out);
    assert!(
        err.contains("age plugin recipients named only in the file"),
        "{err}"
    );
    assert!(
        !std::fs::read_to_string(env.p("rule.yaml"))
            .unwrap()
            .contains(&evil_r)
    );
    let out = run(&env.x, &["rotate", "--keep-file-recipients", "norule.yaml"]);
    ok(out.clone());
    assert!(stderr(&out).contains(&evil_r), "{}", stderr(&out));
    let text = std::fs::read_to_string(env.p("norule.yaml")).unwrap();
    assert!(!text.contains(&evil_r) && text.contains(&env.plugin.public));
    assert_eq!(ok(run(&env.plugin, &["decrypt", "norule.yaml"])), PLAIN);
    assert_eq!(ok(run(&env.x, &["decrypt", "rule.yaml"])), PLAIN);
    assert!(env.runs().contains(&"recipient-v1".to_owned()));
}

/// `team add` with a plugin recipient, then `updatekeys` and `rotate` wrap to it.
#[test]
fn team_add_and_rotate_with_a_plugin_member() {
    let Some(repo) = common::git::GitRepo::new() else {
        return;
    };
    let plugin = plugin_key(repo.tmp.path(), "plugin.txt");
    let log = repo.tmp.path().join("plugin.log");
    repo.rules(&["^secrets/"]);
    repo.write("secrets/app.yaml", PLAIN);
    let sealed = |key: &Path, args: &[&str]| {
        let out = repo
            .sealed()
            .env("PATH", path_with_plugin())
            .env("SEALEDTEST_LOG", &log)
            .env("SOPS_AGE_KEY_FILE", key)
            .args(args)
            .output()
            .unwrap();
        ok(out)
    };
    sealed(&repo.key.path, &["encrypt", "-i", "secrets/app.yaml"]);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "init"]);
    sealed(&repo.key.path, &["team", "add", "yubi", &plugin.public]);
    assert!(repo.read(".sops.yaml").contains(&plugin.public));
    assert!(repo.read("secrets/app.yaml").contains(&plugin.public));
    assert_eq!(
        sealed(&plugin.path, &["decrypt", "secrets/app.yaml"]),
        PLAIN
    );
    sealed(&plugin.path, &["rotate", "secrets/app.yaml"]);
    assert_eq!(
        sealed(&repo.key.path, &["decrypt", "secrets/app.yaml"]),
        PLAIN
    );
    assert_eq!(
        sealed(&plugin.path, &["decrypt", "secrets/app.yaml"]),
        PLAIN
    );
}

/// The git filter's storage mode (plaintext work tree) with a plugin recipient: one
/// long-running `sealed git filter-process` (and one textconv run of `git log -p`) starts
/// the plugin once per data key, however many times git hands it the file's versions; a
/// teammate's fresh clone opens with the plugin identity.
#[test]
fn git_filter_runs_the_plugin_once_per_file_and_process() {
    let Some(repo) = common::git::GitRepo::new() else {
        return;
    };
    let plugin = plugin_key(repo.tmp.path(), "plugin.txt");
    let log = repo.tmp.path().join("plugin.log");
    let in_dir = |program: &Path, dir: &Path, args: &[&str]| {
        let out = repo
            .cmd_in(program, dir)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    common::bin().parent().unwrap().display(),
                    path_with_plugin()
                ),
            )
            .env("SEALEDTEST_LOG", &log)
            .env("SOPS_AGE_KEY_FILE", &plugin.path)
            .args(args)
            .output()
            .unwrap();
        ok(out)
    };
    let git = |args: &[&str]| in_dir(Path::new("git"), &repo.root, args);
    // Runs per process since the last call.
    let runs = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        let mut per: std::collections::BTreeMap<String, usize> = Default::default();
        for l in text.lines().filter(|l| l.starts_with("identity-v1 ")) {
            *per.entry(l[12..].to_owned()).or_default() += 1;
        }
        per.into_values().collect::<Vec<usize>>()
    };
    repo.write(
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            plugin.public
        ),
    );
    in_dir(&common::bin(), &repo.root, &["git", "init"]);
    repo.write("secrets/app.yaml", PLAIN);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "one"]);
    for port in ["5433", "5434"] {
        repo.write("secrets/app.yaml", &PLAIN.replace("5432", port));
        git(&["commit", "-q", "-a", "-m", port]);
    }
    let stored = git(&["show", "HEAD:secrets/app.yaml"]);
    assert!(stored.contains(&plugin.public) && !stored.contains("fake-plugin-pass-1"));
    runs();

    // Three versions of the file under one data key: one run per process.
    let patch = git(&["log", "-p", "--oneline", "-3"]);
    assert!(
        patch.contains("+port: 5434") && patch.contains("-port: 5433"),
        "{patch}"
    );
    assert_eq!(runs(), [1], "git log -p");
    git(&["checkout", "-q", "HEAD~2"]);
    assert_eq!(repo.read("secrets/app.yaml"), PLAIN);
    assert_eq!(runs(), [1], "git checkout");
    git(&["checkout", "-q", "main"]);
    assert_eq!(runs(), [1], "git checkout main");
    git(&["diff", "HEAD~2"]);
    assert_eq!(runs(), [1], "git diff");

    // A teammate's clone: ciphertext until `sealed git init` with the plugin identity.
    let clone = repo.tmp.path().join("clone");
    let (root, clone_s) = (repo.root.to_str().unwrap(), clone.to_str().unwrap());
    git(&["clone", "-q", root, clone_s]);
    let file = clone.join("secrets/app.yaml");
    assert!(std::fs::read_to_string(&file).unwrap().contains("ENC["));
    in_dir(&common::bin(), &clone, &["git", "init"]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        PLAIN.replace("5432", "5434")
    );
}

/// Shamir key groups with a plugin member: both groups' shares are needed, the plugin's
/// and the X25519 key's.
#[test]
fn shamir_group_with_a_plugin_member() {
    let env = Env::new();
    std::fs::write(
        env.p(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: ''\n    shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n",
            env.x.public, env.plugin.public
        ),
    )
    .unwrap();
    std::fs::write(env.p("app.yaml"), PLAIN).unwrap();
    ok(env
        .sealed()
        .args(["encrypt", "-i", "app.yaml"])
        .output()
        .unwrap());
    assert!(
        std::fs::read_to_string(env.p("app.yaml"))
            .unwrap()
            .contains("shamir_threshold: 2")
    );
    let both = std::fs::read_to_string(&env.plugin.path).unwrap()
        + &std::fs::read_to_string(&env.x.path).unwrap();
    let out = env
        .sealed()
        .env("SOPS_AGE_KEY", &both)
        .args(["decrypt", "app.yaml"])
        .output();
    assert_eq!(ok(out.unwrap()), PLAIN);
    for key in [&env.x, &env.plugin] {
        let out = env
            .with_key(key)
            .args(["decrypt", "app.yaml"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(128), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

/// `sealed init` with only a plugin identity cannot read its public key: it says so, and
/// the suggested `sealed init --age …` works with the plugin recipient.
#[test]
fn init_with_only_a_plugin_identity_asks_for_the_recipient() {
    let Some(repo) = common::git::GitRepo::new() else {
        return;
    };
    let plugin = plugin_key(repo.tmp.path(), "plugin.txt");
    let init = |args: &[&str]| {
        repo.sealed()
            .env("PATH", path_with_plugin())
            .env("SOPS_AGE_KEY_FILE", &plugin.path)
            .arg("init")
            .args(args)
            .output()
            .unwrap()
    };
    let out = init(&[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("held by an age plugin"), "{err}");
    assert!(err.contains("sealed init --age age1…"), "{err}");
    assert!(!err.contains("SEALEDTEST-1"), "{err}");
    ok(init(&["--age", &plugin.public]));
    assert!(repo.read(".sops.yaml").contains(&plugin.public));
}
