//! A `.sops.yaml` rule without key groups, with `key_groups: []`, or with an empty group
//! (sops's functional tests `test_no_keygroups`, `test_zero_keygroups`,
//! `test_empty_keygroup`): exit 1 as sops, one line naming `.sops.yaml` and quoting sops's
//! words, the file left as it was. sops's tests compare the whole of stderr with its own
//! line, which sealed does not print alone (its lines start with `sealed:` and name a file).

mod common;
use common::*;

#[test]
fn a_rule_without_recipients_fails_as_sops_does() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(
        d.join(".sops.yaml"),
        "creation_rules:\n    - path_regex: no.yaml\n    - path_regex: zero.yaml\n      key_groups: []\n    - path_regex: empty.yaml\n      key_groups:\n        - {}\n",
    )
    .unwrap();
    let sops = peer("sops");
    for name in ["no.yaml", "zero.yaml", "empty.yaml"] {
        std::fs::write(d.join(name), "a: secret\n").unwrap();
        let out = sealed()
            .current_dir(d)
            .args(["encrypt", "-i", name])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(".sops.yaml: "), "{err}");
        assert!(
            err.contains("Could not generate data key: [empty key group provided]"),
            "{err}"
        );
        assert!(!err.contains("secret"), "{err}");
        assert_eq!(
            std::fs::read_to_string(d.join(name)).unwrap(),
            "a: secret\n"
        );
        if let Some(sops) = &sops {
            let out = std::process::Command::new(sops)
                .current_dir(d)
                .env("HOME", d)
                .args(["encrypt", "-i", name])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "sops, {name}");
        }
    }
}
