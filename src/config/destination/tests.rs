use super::*;

fn rules(yaml: &str) -> Result<Vec<DestinationRule>, String> {
    let docs = crate::format::yaml_value::load(yaml).unwrap();
    parse_all(docs[0].get("destination_rules"))
}

/// The functional suite's rules: the first matching rule wins, defaults as sops's.
#[test]
fn rules_match_and_default_as_sops() {
    let r = rules(
        "destination_rules:\n\
         - s3_bucket: b\n  path_regex: s3\\.json\n\
         - vault_path: \"functional-test\"\n  vault_kv_version: 2\n  path_regex: vault\\.json\n\
         - vault_path: v1/\n  vault_kv_mount_name: kv\n  vault_kv_version: 1\n  vault_address: http://v:8200\n",
    )
    .unwrap();
    assert_eq!(
        rule_for(&r, "x/s3.json").unwrap().destination,
        Some(Destination::Unsupported("s3_bucket"))
    );
    assert_eq!(
        rule_for(&r, "a/vault.json").unwrap().destination,
        Some(Destination::VaultKv {
            address: None,
            path: "functional-test/".into(),
            mount: "secret/".into(),
            version: 2,
        })
    );
    let last = rule_for(&r, "other.yaml").unwrap();
    assert_eq!(
        last.destination,
        Some(Destination::VaultKv {
            address: Some("http://v:8200".into()),
            path: "v1/".into(),
            mount: "kv/".into(),
            version: 1,
        })
    );
    assert_eq!(last.vault_address.as_deref(), Some("http://v:8200"));
}

#[test]
fn two_destinations_in_one_rule_are_refused() {
    let e = rules("destination_rules:\n- vault_path: a\n  s3_bucket: b\n").unwrap_err();
    assert!(e.contains("more than one destinations"), "{e}");
    assert!(rules("destination_rules: 3\n").is_err());
    assert!(rules("destination_rules:\n- path_regex: '('\n").is_err());
}

#[test]
fn kv_paths_are_built_as_sops_builds_them() {
    assert_eq!(
        crate::publish::secret_path("secret/", "app/", 2, "f.json"),
        "secret/data/app/f.json"
    );
    assert_eq!(
        crate::publish::secret_path("kv/", "app/", 1, "f.json"),
        "kv/app/f.json"
    );
}

#[test]
fn secrets_manager_rules_name_one_secret_or_a_prefix() {
    let r = rules(
        "destination_rules:\n\
         - path_regex: one\\.json\n  aws_secrets_manager_secret: app/prod\n  aws_secrets_manager_region: eu-west-1\n\
         - aws_secrets_manager_prefix: apps/\n",
    )
    .unwrap();
    assert_eq!(
        rule_for(&r, "one.json").unwrap().destination,
        Some(Destination::SecretsManager {
            secret: Some("app/prod".into()),
            prefix: String::new(),
            region: Some("eu-west-1".into()),
        })
    );
    assert_eq!(
        rule_for(&r, "x.yaml").unwrap().destination,
        Some(Destination::SecretsManager {
            secret: None,
            prefix: "apps/".into(),
            region: None,
        })
    );
    let e = rules(
        "destination_rules:\n- aws_secrets_manager_secret: a\n  aws_secrets_manager_prefix: b\n",
    )
    .unwrap_err();
    assert!(e.contains("exclude each other"), "{e}");
    let e = rules("destination_rules:\n- aws_secrets_manager_secret: a\n  vault_path: b\n")
        .unwrap_err();
    assert!(e.contains("more than one destinations"), "{e}");
}
