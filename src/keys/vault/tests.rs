use super::*;

fn key(a: &str, e: &str, k: &str) -> VaultKey {
    VaultKey {
        address: a.into(),
        engine_path: e.into(),
        key_name: k.into(),
    }
}

/// The cases of sops's `TestNewMasterKeyFromURI` and `Test_engineAndKeyFromPath`.
#[test]
fn uris_parse_as_sops_parses_them() {
    let ok = [
        (
            "https://vault.example.com:8200/v1/transit/keys/keyName",
            key("https://vault.example.com:8200", "transit", "keyName"),
        ),
        (
            "https://vault.me.com/v1/super42/bestmarket/keys/slig",
            key("https://vault.me.com", "super42/bestmarket", "slig"),
        ),
        (
            "http://127.0.0.1:12121/v1/transit/keys/dev",
            key("http://127.0.0.1:12121", "transit", "dev"),
        ),
    ];
    for (uri, want) in ok {
        let got = VaultKey::parse_uri(uri).unwrap();
        assert_eq!(got, want, "{uri}");
        assert_eq!(got.uri(), uri, "printed back as given");
    }
    for (uri, why) in [
        ("vault.me/keys/dev/mykey", "missing scheme"),
        (
            "http://127.0.0.1:12121/v1/keys/dev",
            "not formatted correctly",
        ),
        ("https://h/nested/v1/transit/keys/bar", "prefixed URL"),
        ("https://h/secret/foo/bar", "not formatted correctly"),
        ("ftp://h/v1/transit/keys/k", "http or https"),
        ("https://h/v1/tr%2e/keys/k", "unexpected characters"),
        ("https://h/v1/transit/keys/..", "unexpected characters"),
    ] {
        let e = VaultKey::parse_uri(uri).unwrap_err().to_string();
        assert!(e.contains(why), "{uri}: {e}");
    }
}

#[test]
fn a_file_entry_with_a_path_that_steers_the_request_is_refused() {
    for (e, k) in [("transit/../sys", "k"), ("transit", "k/../../x"), ("", "k")] {
        let err = key("http://h", e, k).check_paths().unwrap_err().to_string();
        assert!(err.contains("unexpected characters"), "{err}");
    }
    assert!(key("http://h", "a/b", "k-1").check_paths().is_ok());
}

#[test]
fn addresses_compare_without_case_or_trailing_slash() {
    assert_eq!(normalize("HTTPS://Vault:8200/"), "https://vault:8200");
}
