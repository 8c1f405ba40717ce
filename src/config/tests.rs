use super::*;
use std::fs;

const A1: &str = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";
const A2: &str = "age1tmaae3ld5vpevmsh5yacsauzx8jetg300mpvc4ugp5zr5l6ssq9sla97ep";
const A3: &str = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun";

fn parse(src: &str) -> Result<Config, String> {
    Config::parse(Path::new("/repo/.sops.yaml"), src)
}

fn rule(src: &str) -> CreationRule {
    let mut c = parse(src).unwrap();
    assert_eq!(c.rules.len(), 1);
    c.rules.remove(0)
}

/// Whether some ancestor of `dir` already holds a config (then "not found" is untestable).
fn ancestor_has_config(dir: &Path) -> bool {
    dir.ancestors()
        .any(|d| d.join(CONFIG_FILE_NAME).exists() || d.join(IGNORED_CONFIG_FILE_NAME).exists())
}

#[test]
fn discovery_walks_up() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let deep = root.join("a/b/c");
    fs::create_dir_all(&deep).unwrap();
    fs::write(
        root.join("a").join(CONFIG_FILE_NAME),
        "creation_rules: []\n",
    )
    .unwrap();
    assert_eq!(
        Config::discover(&deep),
        Some(root.join("a").join(CONFIG_FILE_NAME))
    );
    assert_eq!(
        Config::discover(&root.join("a")),
        Some(root.join("a").join(CONFIG_FILE_NAME))
    );
    // The nearest one wins.
    fs::write(root.join("a/b").join(CONFIG_FILE_NAME), "").unwrap();
    assert_eq!(
        Config::discover(&deep),
        Some(root.join("a/b").join(CONFIG_FILE_NAME))
    );
    // `..` is resolved lexically.
    assert_eq!(
        Config::discover(&deep.join("../..")),
        Some(root.join("a").join(CONFIG_FILE_NAME))
    );
    if !ancestor_has_config(root) {
        assert_eq!(Config::discover(root), None);
    } else {
        eprintln!("notice: a config above the temp dir; skipping the not-found check");
    }
}

#[test]
fn sops_yml_is_ignored_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let deep = root.join("a/b");
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join(IGNORED_CONFIG_FILE_NAME), "creation_rules: []\n").unwrap();
    if !ancestor_has_config(root) {
        let found = Config::lookup(&deep);
        assert_eq!(found.path, None);
        assert!(found.warning.unwrap().contains(".sops.yml"));
    }
    fs::write(root.join(CONFIG_FILE_NAME), "").unwrap();
    let found = Config::lookup(&deep);
    assert_eq!(found.path, Some(root.join(CONFIG_FILE_NAME)));
    let warning = found.warning.unwrap();
    assert!(warning.contains(&deep.join(IGNORED_CONFIG_FILE_NAME).display().to_string()));
    assert!(warning.contains("using"));
    // No warning when the real file is found first.
    fs::write(deep.join(CONFIG_FILE_NAME), "").unwrap();
    assert_eq!(
        Config::lookup(&deep),
        Lookup {
            path: Some(deep.join(CONFIG_FILE_NAME)),
            warning: None
        }
    );
}

#[test]
fn age_as_string_or_list() {
    let r = rule(&format!("creation_rules:\n  - age: '{A1}, {A2},,'\n"));
    assert_eq!(r.key_groups, vec![vec![A1.to_owned(), A2.to_owned()]]);
    let r = rule(&format!(
        "creation_rules:\n  - age:\n      - {A1}\n      - ' {A2} '\n      - '{A3},{A1}'\n"
    ));
    assert_eq!(
        r.key_groups,
        vec![vec![A1.to_owned(), A2.to_owned(), A3.to_owned()]]
    );
    // A folded block, as in sops's own example.
    let r = rule(&format!(
        "creation_rules:\n  - age: >-\n      {A1},\n      {A2}\n"
    ));
    assert_eq!(r.key_groups, vec![vec![A1.to_owned(), A2.to_owned()]]);
    // ssh recipients keep their inner spaces.
    let r = rule("creation_rules:\n  - age: ssh-ed25519 AAAAC3Nza key@host\n");
    assert_eq!(
        r.key_groups,
        vec![vec!["ssh-ed25519 AAAAC3Nza key@host".to_owned()]]
    );
    assert!(parse("creation_rules:\n  - age: [1]\n").is_err());
    assert!(parse("creation_rules:\n  - age: {a: b}\n").is_err());
}

#[test]
fn key_groups_and_threshold() {
    let r = rule(&format!(
        "creation_rules:
  - path_regex: x
    shamir_threshold: 2
    age: {A3}
    key_groups:
      - age: [{A1}]
        pgp: [ABCDEF]
      - pgp: [ABCDEF]
      - age: [{A2}, {A2}]
        merge:
          - age: [{A3}]
          - kms: [{{arn: \"arn:aws:kms:eu-west-1:1:key/k\", context: {{b: \"2\", a: x}}}}]
            age: [{A2}]
"
    ));
    // pgp keys are collected too, before age keys (sops's order); kms is not.
    assert_eq!(
        r.key_groups,
        vec![
            vec!["pgp:ABCDEF".to_owned(), A1.to_owned()],
            vec!["pgp:ABCDEF".to_owned()],
            vec![
                A3.to_owned(),
                "kms:arn:aws:kms:eu-west-1:1:key/k|context=a:x,b:2".to_owned(),
                A2.to_owned()
            ]
        ]
    );
    assert!(parse("creation_rules:\n  - key_groups: [{kms: [{arn: x}]}]\n").is_err());
    assert_eq!(r.shamir_threshold, Some(2));
    assert_eq!(r.path_regex.as_deref(), Some("x"));
    // Empty key_groups falls back to the plain keys; threshold 0 means unset.
    let r = rule(&format!(
        "creation_rules:\n  - key_groups: []\n    age: {A1}\n    shamir_threshold: 0\n"
    ));
    assert_eq!(r.key_groups, vec![vec![A1.to_owned()]]);
    assert_eq!(r.shamir_threshold, None);
    // pgp, then kms (ARN+ROLE, with the rule's aws_profile), in sops's order.
    let r = rule(
        "creation_rules:\n  - pgp: ABCDEF\n    kms: arn:aws:kms:us-east-1:1:key/a+arn:aws:iam::1:role/r\n    aws_profile: dev\n",
    );
    assert_eq!(
        r.key_groups,
        vec![vec![
            "pgp:ABCDEF".to_owned(),
            "kms:arn:aws:kms:us-east-1:1:key/a+arn:aws:iam::1:role/r|aws_profile=dev".to_owned()
        ]]
    );
    // Only keys of kinds sealed does not use: kept, without groups.
    let r = rule("creation_rules:\n  - gcp_kms: projects/p/locations/l/keyRings/r/cryptoKeys/k\n");
    assert!(r.key_groups.is_empty());
    assert!(parse("creation_rules:\n  - shamir_threshold: -1\n").is_err());
    assert!(parse("creation_rules:\n  - shamir_threshold: two\n").is_err());
    assert!(parse("creation_rules:\n  - key_groups: {age: x}\n").is_err());
    assert!(parse("creation_rules:\n  - key_groups: [{age: x}]\n").is_err());
}

#[test]
fn selection_options() {
    let r = rule(
        "creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n",
    );
    assert_eq!(
        r.selection,
        Selection {
            encrypted_regex: Some("^(data|stringData)$".to_owned()),
            mac_only_encrypted: true,
            ..Selection::default()
        }
    );
    let r = rule("creation_rules:\n  - unencrypted_suffix: ''\n    encrypted_suffix: _enc\n");
    assert_eq!(r.selection.encrypted_suffix.as_deref(), Some("_enc"));
    assert_eq!(r.selection.unencrypted_suffix, None);
    let r = rule("creation_rules:\n  - mac_only_encrypted: yes\n");
    assert!(r.selection.mac_only_encrypted);
    assert!(parse("creation_rules:\n  - mac_only_encrypted: maybe\n").is_err());
}

#[test]
fn conflicting_options_are_an_error() {
    let err = parse(
        "creation_rules:\n  - path_regex: a\n  - unencrypted_suffix: _u\n    encrypted_regex: x\n",
    )
    .unwrap_err();
    assert!(
        err.starts_with("creation_rules[1]: cannot use more than one of"),
        "{err}"
    );
}

#[test]
fn invalid_regexes_name_the_rule() {
    let err =
        parse("creation_rules:\n  - path_regex: ok\n  - path_regex: '(unclosed'\n").unwrap_err();
    assert!(
        err.starts_with("creation_rules[1].path_regex: invalid regular expression"),
        "{err}"
    );
    let err = parse("creation_rules:\n  - encrypted_comment_regex: '['\n").unwrap_err();
    assert!(
        err.starts_with("creation_rules[0].encrypted_comment_regex:"),
        "{err}"
    );
}

#[test]
fn shapes_and_unknown_keys() {
    assert!(parse("").unwrap().rules.is_empty());
    assert!(
        parse("stores: {yaml: {indent: 2}}\n")
            .unwrap()
            .rules
            .is_empty()
    );
    let c = parse(
            "destination_rules:\n  - s3_bucket: b\nstores: {}\ncreation_rules:\n  - age: x\n    unknown: 1\n",
        )
        .unwrap();
    assert_eq!(c.rules.len(), 1);
    // A null entry is an empty rule that matches everything.
    let c = parse("creation_rules:\n  -\n").unwrap();
    assert!(c.rule_for(Path::new("/repo/any")).is_some());
    assert!(parse("- a\n").is_err());
    assert!(parse("creation_rules: x\n").is_err());
    assert!(parse("creation_rules: [1]\n").is_err());
    // Only the first document counts.
    let c = parse("creation_rules: []\n---\ncreation_rules: [{age: x}]\n").unwrap();
    assert!(c.rules.is_empty());
}

#[test]
fn load_errors_name_file_and_position() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(CONFIG_FILE_NAME);
    fs::write(&path, "creation_rules:\n  - age: x\n   bad: [\n").unwrap();
    let err = Config::load(&path).unwrap_err();
    assert_eq!(err.file, path.display().to_string());
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}: 3:", path.display())),
        "{text}"
    );
    fs::write(&path, "a: 1\na: 2\n").unwrap();
    let err = Config::load(&path).unwrap_err();
    assert_eq!(err.msg, "2:1: duplicate mapping key");
    fs::write(&path, "é: 1\nx: *nope\n").unwrap();
    let err = Config::load(&path).unwrap_err();
    assert!(err.msg.starts_with("2:4:"), "{}", err.msg);
    let missing = tmp.path().join("missing.yaml");
    let err = Config::load(&missing).unwrap_err();
    assert!(err.to_string().starts_with(&missing.display().to_string()));
    fs::write(&path, format!("creation_rules:\n  - age: {A1}\n")).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.path, path);
    assert_eq!(c.rules[0].key_groups, vec![vec![A1.to_owned()]]);
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(line_col("abc", 0), (1, 1));
    assert_eq!(line_col("a\nbc", 3), (2, 2));
    assert_eq!(line_col("é\néx", 5), (2, 2));
    assert_eq!(line_col("\u{feff}ab", 4), (1, 2));
    assert_eq!(line_col("ab", 99), (1, 3));
}

#[test]
fn rules_match_relative_to_the_config_dir() {
    let c = parse(&format!(
        "creation_rules:
  - path_regex: ^prod/.*\\.yaml$
    age: {A1}
  - path_regex: secrets
    age: {A2}
  - path_regex: ^/elsewhere/
    age: {A3}
  - age: {A3}
    path_regex: ''
  - age: {A1}
"
    ))
    .unwrap();
    let pick = |p: &str| {
        let r = c.rule_for(Path::new(p)).unwrap();
        c.rules.iter().position(|x| std::ptr::eq(x, r)).unwrap()
    };
    assert_eq!(pick("/repo/prod/db.yaml"), 0);
    assert_eq!(pick("/repo/./prod/x/../db.yaml"), 0);
    assert_eq!(pick("/repo/staging/prod/db.yaml"), 3);
    assert_eq!(pick("/repo/dev/secrets.json"), 1);
    assert_eq!(pick("/repo/prod/secrets.yaml"), 0); // first match wins
    // Outside the config dir: the absolute path is matched.
    assert_eq!(pick("/elsewhere/prod/db.yaml"), 2);
    assert_eq!(pick("/repository/prod/db.yaml"), 3);
    assert_eq!(pick("/other/secrets"), 1);
    // No rule matches: None.
    let c = parse("creation_rules:\n  - path_regex: \\.yaml$\n").unwrap();
    assert!(c.rule_for(Path::new("/repo/a.json")).is_none());
    assert!(c.rule_for(Path::new("/repo/a.yaml")).is_some());
}

#[test]
fn relative_paths_use_the_working_directory() {
    let cwd = std::env::current_dir().unwrap();
    let c = Config::parse(
        Path::new(".sops.yaml"),
        "creation_rules:\n  - path_regex: ^sub/f$\n",
    )
    .unwrap();
    assert!(c.rule_for(Path::new("sub/f")).is_some());
    assert!(c.rule_for(&cwd.join("sub/f")).is_some());
    assert!(c.rule_for(Path::new("./sub/../sub/f")).is_some());
    assert!(c.rule_for(Path::new("other/sub/f")).is_none());
}

#[test]
fn fixture_configs() {
    let Some(base) = crate::testutil::shared("sops-fixtures") else {
        return;
    };
    let shamir = base.join("generated-sops-3.11.0/sops.shamir.yaml");
    let c = Config::load(&shamir).unwrap();
    let dir = shamir.parent().unwrap();
    let r = c.rule_for(&dir.join("secrets.yaml")).unwrap();
    assert_eq!(r.shamir_threshold, Some(2));
    assert_eq!(
        r.key_groups,
        vec![
            vec![A1.to_owned()],
            vec![A2.to_owned()],
            vec![A3.to_owned()]
        ]
    );
    assert_eq!(r.selection, Selection::default());
    assert!(c.rule_for(&dir.join("secrets.json")).is_none());

    let pr = base.join("sops-pr1031-age/sops.yaml");
    let c = Config::load(&pr).unwrap();
    let r = c
        .rule_for(&pr.parent().unwrap().join("example.yaml"))
        .unwrap();
    // pgp fingerprints first (sops's order), as `pgp:FINGERPRINT`.
    assert_eq!(
        r.key_groups,
        vec![vec![
            "pgp:FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4".to_owned(),
            "pgp:D7229043384BCC60326C6FB9D8720D957C3D3074".to_owned(),
            A2.to_owned(),
            A1.to_owned()
        ]]
    );
    assert_eq!(r.shamir_threshold, None);

    let ft = base.join("sops-main-HEAD/functional-tests-res/functional-tests.sops.yaml");
    let c = Config::load(&ft).unwrap();
    assert_eq!(c.rules.len(), 6);
    let d = ft.parent().unwrap();
    // pgp-only key groups.
    let r = c
        .rule_for(&d.join("test_roundtrip_keygroups.yaml"))
        .unwrap();
    assert_eq!(
        r.key_groups,
        vec![
            vec!["pgp:FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4".to_owned()],
            vec!["pgp:D7229043384BCC60326C6FB9D8720D957C3D3074".to_owned()]
        ]
    );
    let r = c.rule_for(&d.join("test_empty_keygroup.yaml")).unwrap();
    assert_eq!(r.key_groups, vec![Vec::<String>::new()]);
    let r = c.rule_for(&d.join("test_zero_keygroups.yaml")).unwrap();
    assert!(r.key_groups.is_empty());
    // The catch-all pgp rule.
    let r = c.rule_for(&d.join("anything.json")).unwrap();
    assert!(r.path_regex.is_none());
    assert_eq!(
        r.key_groups,
        vec![vec![
            "pgp:FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4".to_owned()
        ]]
    );
}

#[test]
fn vault_transit_uris_in_rules_and_key_groups() {
    let v1 = "https://vault.example.com:8200/v1/transit/keys/app";
    let v2 = "http://127.0.0.1:8200/v1/a/b/keys/k";
    // A plain rule: pgp, then Vault, then age (sops's order); a string or a list.
    let r = rule(&format!(
        "creation_rules:\n  - age: {A1}\n    hc_vault_transit_uri: {v1},{v2}\n"
    ));
    assert_eq!(
        r.key_groups,
        vec![vec![v1.to_owned(), v2.to_owned(), A1.to_owned()]]
    );
    let r = rule(&format!(
        "creation_rules:\n  - hc_vault_transit_uri: [{v1}]\n"
    ));
    assert_eq!(r.key_groups, vec![vec![v1.to_owned()]]);
    // Key groups: `hc_vault:` lists.
    let r = rule(&format!(
        "creation_rules:\n  - key_groups:\n      - hc_vault: [{v1}]\n        age: [{A1}]\n      - hc_vault: [{v2}]\n"
    ));
    assert_eq!(
        r.key_groups,
        vec![vec![v1.to_owned(), A1.to_owned()], vec![v2.to_owned()]]
    );
    // A URI sops would refuse is an error naming the field.
    let e =
        parse("creation_rules:\n  - hc_vault_transit_uri: vault.example.com/keys/x\n").unwrap_err();
    assert!(
        e.contains(".hc_vault_transit_uri") && e.contains("missing scheme"),
        "{e}"
    );
    let e = parse("creation_rules:\n  - key_groups:\n      - hc_vault: [\"https://h/v1/t\"]\n")
        .unwrap_err();
    assert!(e.contains(".key_groups[0].hc_vault"), "{e}");
}
