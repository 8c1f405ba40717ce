//! The merge driver through real `git merge`: changes merge by key path, not by line, in
//! both storage modes (plaintext work tree under `sealed git init`'s filter, and files
//! committed encrypted with only `merge=sealed`).

mod common;

use std::path::Path;
use std::process::Output;

use common::bin;
use common::git::GitRepo;

/// A git repository ([`GitRepo`]: a key and a git environment isolated from the user's)
/// with a `.sops.yaml` for `secrets/`.
struct Repo(GitRepo);

impl std::ops::Deref for Repo {
    type Target = GitRepo;
    fn deref(&self) -> &GitRepo {
        &self.0
    }
}

impl Repo {
    fn new() -> Option<Repo> {
        let r = Repo(GitRepo::new()?);
        std::fs::create_dir_all(r.root.join("secrets")).unwrap();
        r.write(
            ".sops.yaml",
            &format!(
                "creation_rules:\n  - path_regex: secrets/.*\\.(yaml|json|env)$\n    age: {}\n",
                r.key.public
            ),
        );
        Some(r)
    }

    fn sealed_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sealed {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `sealed git init` (plaintext work tree, filter) with `files` and a first commit.
    fn filtered(files: &[(&str, &str)]) -> Option<Repo> {
        let r = Repo::new()?;
        for (p, t) in files {
            r.write(p, t);
        }
        r.sealed_ok(&["git", "init"]);
        r.git(&["add", "-A"]);
        r.git(&["commit", "-q", "-m", "init"]);
        Some(r)
    }

    /// Files committed encrypted (sops-style): `.gitattributes` with only
    /// `merge=sealed`, the driver configured by hand, no filter.
    fn sops_style(files: &[(&str, &str)]) -> Option<Repo> {
        let r = Repo::new()?;
        for (p, t) in files {
            r.write(p, t);
            r.sealed_ok(&["encrypt", "-i", p]);
        }
        r.write(".gitattributes", "secrets/** merge=sealed\n");
        let driver = format!("{} git merge %O %A %B %P", bin().display());
        r.git(&["config", "merge.sealed.driver", &driver]);
        r.git(&["add", "-A"]);
        r.git(&["commit", "-q", "-m", "init"]);
        Some(r)
    }

    /// Commits `edit(main)` on main and `edit(feature)` on a branch `feature` made from
    /// the current commit, then runs `git merge feature` on main.
    fn branches(
        &self,
        path: &str,
        feature: &dyn Fn(&str) -> String,
        main: &dyn Fn(&str) -> String,
    ) -> Output {
        self.git(&["checkout", "-q", "-B", "feature"]);
        self.write(path, &feature(&self.read(path)));
        self.git(&["commit", "-q", "-am", "feature"]);
        self.git(&["checkout", "-q", "main"]);
        self.write(path, &main(&self.read(path)));
        self.git(&["commit", "-q", "-am", "main"]);
        self.git_output(&["merge", "-q", "feature", "-m", "merge"])
    }

    /// The committed blob at HEAD, decrypted by `sealed decrypt` (which verifies the
    /// MAC and layout digest).
    fn decrypted_head(&self, path: &str) -> String {
        let blob = self.git(&["show", &format!("HEAD:{path}")]);
        assert!(
            blob.contains("ENC[AES256_GCM"),
            "the commit holds ciphertext"
        );
        let name = Path::new(path).file_name().unwrap().to_str().unwrap();
        let copy = self.root.parent().unwrap().join(name);
        std::fs::write(&copy, &blob).unwrap();
        self.sealed_ok(&["decrypt", copy.to_str().unwrap()])
    }
}

/// The `ENC[…]` token on the line of `key` in a ciphertext.
fn token_of(cipher: &str, key: &str) -> String {
    let line = cipher
        .lines()
        .find(|l| l.trim_start().trim_start_matches('"').starts_with(key))
        .unwrap_or_else(|| panic!("no line for {key}"));
    let start = line.find("ENC[").expect("a token");
    let end = line[start..].find(']').unwrap() + start + 1;
    line[start..end].to_string()
}

const APP: &str = "db:\n  user: admin # owner\n  password: fake-pass-1\nport: 5432\n";

#[test]
fn adjacent_values_changed_on_two_branches_merge_cleanly() {
    let Some(r) = Repo::filtered(&[("secrets/app.yaml", APP)]) else {
        return;
    };
    let base_blob = r.git(&["show", "HEAD:secrets/app.yaml"]);
    let out = r.branches("secrets/app.yaml", &|t| t.replace("admin", "root"), &|t| {
        t.replace("fake-pass-1", "fake-pass-2")
    });
    assert!(
        out.status.success(),
        "adjacent values merge: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = "db:\n  user: root # owner\n  password: fake-pass-2\nport: 5432\n";
    assert_eq!(r.read("secrets/app.yaml"), want);
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    assert_eq!(r.decrypted_head("secrets/app.yaml"), want);
    let blob = r.git(&["show", "HEAD:secrets/app.yaml"]);
    assert_eq!(
        token_of(&blob, "port:"),
        token_of(&base_blob, "port:"),
        "an unchanged value keeps its token"
    );
}

#[test]
fn additions_and_removals_of_different_keys_merge() {
    let Some(r) = Repo::filtered(&[("secrets/app.yaml", APP)]) else {
        return;
    };
    let out = r.branches(
        "secrets/app.yaml",
        // theirs: a new key right after `user`, and `port` removed
        &|t| {
            t.replace("# owner\n", "# owner\n  name: fake-db-name\n")
                .replace("port: 5432\n", "")
        },
        // ours: a new key after `password`
        &|t| t.replace("fake-pass-1\n", "fake-pass-1\n  host: fake-host\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = "db:\n  user: admin # owner\n  name: fake-db-name\n  password: fake-pass-1\n  host: fake-host\n";
    assert_eq!(r.read("secrets/app.yaml"), want);
    assert_eq!(r.decrypted_head("secrets/app.yaml"), want);
    assert_eq!(r.git(&["status", "--porcelain"]), "");
}

#[test]
fn one_value_changed_differently_is_a_conflict_on_just_that_entry() {
    let Some(r) = Repo::filtered(&[("secrets/app.yaml", APP)]) else {
        return;
    };
    let out = r.branches(
        "secrets/app.yaml",
        &|t| {
            t.replace("fake-pass-1", "fake-pass-theirs")
                .replace("admin", "root")
        },
        &|t| {
            t.replace("fake-pass-1", "fake-pass-ours")
                .replace("5432", "6543")
        },
    );
    assert!(!out.status.success(), "a real conflict fails the merge");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secrets/app.yaml: conflicting changes")
            && stderr.contains("then `git add secrets/app.yaml`"),
        "{stderr}"
    );
    assert!(!stderr.contains("fake-pass"), "no value in messages");
    assert_eq!(
        r.read("secrets/app.yaml"),
        "db:\n  user: root # owner\n<<<<<<< ours\n  password: fake-pass-ours\n=======\n  password: fake-pass-theirs\n>>>>>>> theirs\nport: 6543\n"
    );
    assert!(
        r.git(&["status", "--porcelain"])
            .contains("UU secrets/app.yaml")
    );
    assert!(
        !r.git_output(&["add", "secrets/app.yaml"]).status.success(),
        "markers cannot be staged"
    );
    // Resolving and adding, as the message says, finishes the merge.
    r.write(
        "secrets/app.yaml",
        "db:\n  user: root # owner\n  password: fake-pass-ours\nport: 6543\n",
    );
    r.git(&["add", "secrets/app.yaml"]);
    r.git(&["commit", "-q", "--no-edit"]);
    assert!(
        r.decrypted_head("secrets/app.yaml")
            .contains("password: fake-pass-ours")
    );
}

#[test]
fn a_change_against_a_removal_is_a_conflict() {
    let Some(r) = Repo::filtered(&[("secrets/app.yaml", APP)]) else {
        return;
    };
    let out = r.branches(
        "secrets/app.yaml",
        &|t| t.replace("fake-pass-1", "fake-pass-2"),
        &|t| t.replace("  password: fake-pass-1\n", ""),
    );
    assert!(!out.status.success());
    assert_eq!(
        r.read("secrets/app.yaml"),
        "db:\n  user: admin # owner\n<<<<<<< ours\n=======\n  password: fake-pass-2\n>>>>>>> theirs\nport: 5432\n"
    );
}

#[test]
fn dotenv_and_json_merge_by_key() {
    let env = "# service\nAPI_USER=fake-user\nAPI_TOKEN=fake-token-1\n";
    let json = "{\n  \"user\": \"admin\",\n  \"password\": \"fake-pass-1\"\n}\n";
    let Some(r) = Repo::filtered(&[("secrets/.env", env), ("secrets/app.json", json)]) else {
        return;
    };
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.write("secrets/.env", &env.replace("fake-user", "fake-user-2"));
    r.write("secrets/app.json", &json.replace("admin", "root"));
    r.git(&["commit", "-q", "-am", "feature"]);
    r.git(&["checkout", "-q", "main"]);
    r.write("secrets/.env", &env.replace("fake-token-1", "fake-token-2"));
    r.write(
        "secrets/app.json",
        &json.replace("fake-pass-1", "fake-pass-2"),
    );
    r.git(&["commit", "-q", "-am", "main"]);
    let out = r.git_output(&["merge", "-q", "feature", "-m", "merge"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env_want = "# service\nAPI_USER=fake-user-2\nAPI_TOKEN=fake-token-2\n";
    let json_want = "{\n  \"user\": \"root\",\n  \"password\": \"fake-pass-2\"\n}\n";
    assert_eq!(r.read("secrets/.env"), env_want);
    assert_eq!(r.read("secrets/app.json"), json_want);
    assert_eq!(r.decrypted_head("secrets/.env"), env_want);
    assert_eq!(r.decrypted_head("secrets/app.json"), json_want);

    // A conflict in a .env file marks just its line.
    let out = r.branches(
        "secrets/.env",
        &|t| {
            t.replace("fake-token-2", "fake-token-theirs")
                .replace("fake-user-2", "u3")
        },
        &|t| t.replace("fake-token-2", "fake-token-ours"),
    );
    assert!(!out.status.success());
    assert_eq!(
        r.read("secrets/.env"),
        "# service\nAPI_USER=u3\n<<<<<<< ours\nAPI_TOKEN=fake-token-ours\n=======\nAPI_TOKEN=fake-token-theirs\n>>>>>>> theirs\n"
    );
}

#[test]
fn sops_style_repositories_merge_ciphertext_by_key() {
    let Some(r) = Repo::sops_style(&[("secrets/app.yaml", APP)]) else {
        return;
    };
    let base = r.read("secrets/app.yaml");
    let r = &r;
    let set = |value: &'static str, path: &'static str| {
        move |_: &str| {
            r.sealed_ok(&["set", "secrets/app.yaml", path, value]);
            r.read("secrets/app.yaml")
        }
    };
    let out = r.branches(
        "secrets/app.yaml",
        &set("\"root\"", "[\"db\"][\"user\"]"),
        &set("\"fake-pass-2\"", "[\"db\"][\"password\"]"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let work = r.read("secrets/app.yaml");
    assert!(!work.contains("fake-pass"), "the work tree stays encrypted");
    assert_eq!(work, r.git(&["show", "HEAD:secrets/app.yaml"]));
    assert_eq!(
        r.sealed_ok(&["decrypt", "secrets/app.yaml"]),
        "db:\n  user: root # owner\n  password: fake-pass-2\nport: 5432\n"
    );
    assert_eq!(token_of(&work, "port:"), token_of(&base, "port:"));

    // A conflict: markers in the decrypted file, and the advice works when pasted.
    let out = r.branches(
        "secrets/app.yaml",
        &set("\"fake-pass-theirs\"", "[\"db\"][\"password\"]"),
        &set("\"fake-pass-ours\"", "[\"db\"][\"password\"]"),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let advice = "`sealed encrypt -i secrets/app.yaml && git add secrets/app.yaml`";
    assert!(stderr.contains(advice), "{stderr}");
    let conflicted = r.read("secrets/app.yaml");
    assert!(conflicted.contains(
        "<<<<<<< ours\n  password: fake-pass-ours\n=======\n  password: fake-pass-theirs\n>>>>>>> theirs\n"
    ));
    r.write(
        "secrets/app.yaml",
        "db:\n  user: root # owner\n  password: fake-pass-ours\nport: 5432\n",
    );
    r.sealed_ok(&["encrypt", "-i", "secrets/app.yaml"]);
    r.git(&["add", "secrets/app.yaml"]);
    r.git(&["commit", "-q", "--no-edit"]);
    assert!(
        r.decrypted_head("secrets/app.yaml")
            .contains("password: fake-pass-ours")
    );
}

#[test]
fn a_side_that_fails_its_mac_is_refused_not_merged() {
    let Some(r) = Repo::sops_style(&[("secrets/app.yaml", APP)]) else {
        return;
    };
    let out = r.branches(
        "secrets/app.yaml",
        // theirs: a token altered without the key (GCM tag check fails)
        &|t| {
            let tok = token_of(t, "password:");
            let at = tok.find("data:").unwrap() + 5;
            let flip = if &tok[at..=at] == "A" { "B" } else { "A" };
            let bad = format!("{}{flip}{}", &tok[..at], &tok[at + 1..]);
            t.replace(&tok, &bad)
        },
        &|t| {
            r.sealed_ok(&["set", "secrets/app.yaml", "[\"port\"]", "6543"]);
            let _ = t;
            r.read("secrets/app.yaml")
        },
    );
    assert!(!out.status.success(), "a tampered side is not merged");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secrets/app.yaml") && stderr.contains("theirs"),
        "{stderr}"
    );
    let work = r.read("secrets/app.yaml");
    assert!(
        !work.contains("fake-pass") && !work.contains("admin"),
        "nothing decrypted is written"
    );
}
