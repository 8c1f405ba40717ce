use super::*;

fn load(text: &str) -> (tempfile::TempDir, SopsFile) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".sops.yaml");
    std::fs::write(&path, text).unwrap();
    let sops = SopsFile::load(&path).unwrap();
    (dir, sops)
}

fn member(name: &str, r: &str) -> Member {
    Member {
        name: name.into(),
        recipient: r.into(),
    }
}

fn add(text: &str, rules: &[usize], group: usize) -> String {
    let (_d, s) = load(text);
    s.add(&member("carol", "age1ccc"), rules, group)
        .unwrap_or_else(|e| panic!("{e}"))
        .text
}

fn remove(text: &str, r: &str) -> String {
    let (_d, s) = load(text);
    s.remove(&member("bob", r))
        .unwrap_or_else(|e| panic!("{e}"))
        .text
}

const LIST: &str = "# c\ncreation_rules:\n  - path_regex: a/.*\n    age:\n      - age1aaa # alice\n      - age1bbb # bob\n  - path_regex: b/.*\n    age: age1aaa,age1bbb\n";

#[test]
fn add_to_lists_and_strings_keeps_everything_else() {
    let out = add(LIST, &[0, 1], 0);
    assert_eq!(
        out,
        "# c\ncreation_rules:\n  - path_regex: a/.*\n    age:\n      - age1aaa # alice\n      - age1bbb # bob\n      - age1ccc # carol\n  - path_regex: b/.*\n    age: age1aaa,age1bbb,age1ccc\n\n# Team members (`sealed team add/remove/list`); sops ignores this key.\nsealed_members:\n  carol: age1ccc\n"
    );
    // Only the first rule.
    let out = add(LIST, &[0], 0);
    assert!(out.contains("    age: age1aaa,age1bbb\n"));
    // Again: nothing to do.
    let (_d, s) = load(&out);
    let e = s.add(&member("carol", "age1ccc"), &[0], 0).unwrap();
    assert!(e.is_empty());
}

#[test]
fn add_to_quoted_folded_and_flow() {
    let q = "creation_rules:\n  - age: \"age1aaa, age1bbb\"\n";
    assert!(
        add(q, &[0], 0).starts_with("creation_rules:\n  - age: \"age1aaa, age1bbb, age1ccc\"\n")
    );
    let f = "creation_rules:\n  - age: >-\n      age1aaa,\n      age1bbb\n    path_regex: x\n";
    assert!(add(f, &[0], 0).starts_with(
        "creation_rules:\n  - age: >-\n      age1aaa,\n      age1bbb,\n      age1ccc\n    path_regex: x\n"
    ));
    let fl = "creation_rules: [{age: [age1aaa, age1bbb]}]\n";
    assert!(add(fl, &[0], 0).starts_with("creation_rules: [{age: [age1aaa, age1bbb, age1ccc]}]\n"));
    let crlf = "creation_rules:\r\n  - age:\r\n      - age1aaa\r\n";
    assert_eq!(
        add(crlf, &[0], 0),
        "creation_rules:\r\n  - age:\r\n      - age1aaa\r\n      - age1ccc # carol\r\n\r\n# Team members (`sealed team add/remove/list`); sops ignores this key.\r\nsealed_members:\r\n  carol: age1ccc\r\n"
    );
    let no_eol = "creation_rules:\n  - age:\n      - age1aaa";
    assert!(
        add(no_eol, &[0], 0)
            .starts_with("creation_rules:\n  - age:\n      - age1aaa\n      - age1ccc # carol\n")
    );
}

#[test]
fn add_to_key_groups() {
    let kg = "creation_rules:\n  - path_regex: x\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - age1aaa\n        pgp: [abc]\n      - age:\n          - age1bbb\n";
    let out = add(kg, &[0], 1);
    assert!(out.starts_with("creation_rules:\n  - path_regex: x\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - age1aaa\n        pgp: [abc]\n      - age:\n          - age1bbb\n          - age1ccc # carol\n"));
    let (_d, s) = load(kg);
    assert!(s.add(&member("carol", "age1ccc"), &[0], 2).is_err());
}

#[test]
fn add_to_a_null_age() {
    let t = "creation_rules:\n  - path_regex: x\n    age:\n    pgp: abc\n";
    assert!(
        add(t, &[0], 0)
            .starts_with("creation_rules:\n  - path_regex: x\n    age: age1ccc\n    pgp: abc\n")
    );
}

#[test]
fn add_age_list_to_a_rule_without_one() {
    let t = "creation_rules:\n  - path_regex: x\n    pgp: abc\n";
    assert!(add(t, &[0], 0).starts_with(
        "creation_rules:\n  - path_regex: x\n    age:\n      - age1ccc # carol\n    pgp: abc\n"
    ));
}

#[test]
fn registry_is_extended_in_place() {
    let t = "creation_rules:\n  - age: age1aaa\nsealed_members:\n    alice: age1aaa   # lead\nother: 1\n";
    assert_eq!(
        add(t, &[0], 0),
        "creation_rules:\n  - age: age1aaa,age1ccc\nsealed_members:\n    alice: age1aaa   # lead\n    carol: age1ccc\nother: 1\n"
    );
    let null = "creation_rules:\n  - age: age1aaa\nsealed_members:\n";
    assert_eq!(
        add(null, &[0], 0),
        "creation_rules:\n  - age: age1aaa,age1ccc\nsealed_members:\n  carol: age1ccc\n"
    );
    let (_d, s) = load(t);
    assert!(
        s.add(&member("alice", "age1zzz"), &[0], 0).is_err(),
        "name taken"
    );
    assert!(
        s.add(&member("al", "age1aaa"), &[0], 0).is_err(),
        "recipient taken"
    );
}

#[test]
fn remove_from_every_layout() {
    let out = remove(LIST, "age1bbb");
    assert_eq!(
        out,
        "# c\ncreation_rules:\n  - path_regex: a/.*\n    age:\n      - age1aaa # alice\n  - path_regex: b/.*\n    age: age1aaa\n"
    );
    let s = "creation_rules:\n  - age: \"age1bbb, age1aaa\"\n  - age: >-\n      age1aaa,\n      age1bbb,\n      age1ccc\n  - age: [age1bbb, age1aaa]\n  - age: [age1aaa, age1bbb]\nsealed_members: {alice: age1aaa, bob: age1bbb}\n";
    assert_eq!(
        remove(s, "age1bbb"),
        "creation_rules:\n  - age: \"age1aaa\"\n  - age: >-\n      age1aaa,\n      age1ccc\n  - age: [age1aaa]\n  - age: [age1aaa]\nsealed_members: {alice: age1aaa}\n"
    );
    let kg = "creation_rules:\n  - key_groups:\n      - age:\n          - age1aaa\n          - age1bbb # bob\n        merge:\n          - age: [age1bbb, age1ddd]\n      - age:\n          - age1ccc\nsealed_members:\n  bob: age1bbb\n  alice: age1aaa\n";
    assert_eq!(
        remove(kg, "age1bbb"),
        "creation_rules:\n  - key_groups:\n      - age:\n          - age1aaa\n        merge:\n          - age: [age1ddd]\n      - age:\n          - age1ccc\nsealed_members:\n  alice: age1aaa\n"
    );
}

#[test]
fn refuses_what_it_cannot_do_safely() {
    let (_d, s) = load("creation_rules:\n  - age: age1bbb\n");
    let e = s.remove(&member("bob", "age1bbb")).unwrap_err().to_string();
    assert!(e.contains("only age recipient"), "{e}");
    let aliased =
        "keys:\n  - &bob age1bbb\ncreation_rules:\n  - age:\n      - age1aaa\n      - *bob\n";
    let (_d, s) = load(aliased);
    let e = s.remove(&member("bob", "age1bbb")).unwrap_err().to_string();
    assert!(
        e.contains("aliases") && e.contains("nothing was changed"),
        "{e}"
    );
    assert!(check_name("1abc").is_err() && check_name("a b").is_err());
    assert!(check_recipient_text("ssh-ed25519 AAAA x,y").is_err());
}

#[test]
fn names_from_registry_and_comments() {
    let (_d, s) = load(
        "creation_rules:\n  - age:\n      - age1aaa # alice\n      - age1bbb\nsealed_members:\n  bob: age1bbb\n",
    );
    assert_eq!(s.name_of("age1aaa").as_deref(), Some("alice"));
    assert_eq!(
        s.find("bob").map(|m| m.recipient).as_deref(),
        Some("age1bbb")
    );
    assert_eq!(s.rules_with("age1bbb"), vec![0]);
}

const ARN1: &str = "arn:aws:kms:us-east-1:111122223333:key/aaaa";
const ARN2: &str = "arn:aws:kms:us-east-1:111122223333:key/bbbb";
const V1: &str = "https://vault.example.com:8200/v1/transit/keys/one";
const V2: &str = "https://vault.example.com:8200/v1/transit/keys/two";

/// KMS keys go under a rule's `kms:`, Vault URIs under `hc_vault_transit_uri:` (a key
/// group's `hc_vault:`); a group's `kms:` mappings are not edited; removal undoes it.
#[test]
fn service_keys_go_under_their_own_fields() {
    let text = format!(
        "creation_rules:\n  - path_regex: a\n    kms: {ARN1}\n    age: age1aaa\n\
         \x20 - path_regex: g\n    key_groups:\n      - hc_vault:\n          - {V1}\n\
         \x20     - kms:\n          - arn: {ARN1}\n"
    );
    let (_d, s) = load(&text);
    let kms = member("ci", &format!("kms:{ARN2}"));
    let out = s.add(&kms, &[0], 0).unwrap().text;
    assert!(out.contains(&format!("    kms: {ARN1},{ARN2}\n")), "{out}");
    assert!(out.contains(&format!("  ci: kms:{ARN2}\n")), "{out}");
    let e = s.add(&kms, &[1], 0).unwrap_err().to_string();
    assert!(e.contains("creation_rules[1] has key_groups"), "{e}");

    let (_d2, s2) = load(&out);
    let vault = member("ops", V2);
    let out2 = s2.add(&vault, &[0], 0).unwrap().text;
    assert!(
        out2.contains(&format!("    hc_vault_transit_uri:\n      - {V2} # ops\n")),
        "{out2}"
    );
    let (_d3, s3) = load(&out2);
    let out3 = s3.add(&vault, &[1], 0).unwrap().text;
    assert!(
        out3.contains(&format!(
            "      - hc_vault:\n          - {V1}\n          - {V2} # ops\n"
        )),
        "{out3}"
    );

    // Removal: each key out of every rule and group, the rest as it was.
    let (_d4, s4) = load(&out3);
    let out4 = s4.remove(&vault).unwrap().text;
    assert!(!out4.contains(V2) && out4.contains(V1), "{out4}");
    let (_d5, s5) = load(&out4);
    let out5 = s5.remove(&kms).unwrap().text;
    assert!(
        out5.contains(&format!("    kms: {ARN1}\n")) && !out5.contains(ARN2),
        "{out5}"
    );
    // A KMS key in a group's mappings is not removed by team.
    let (_d6, s6) = load(&format!("{text}        age:\n          - age1zzz\n"));
    let e = s6
        .remove(&member("x", &format!("kms:{ARN1}")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has key_groups"), "{e}");
}
