use super::*;

#[test]
fn plugin_recipients_are_told_from_x25519_and_pq_ones() {
    assert!(is_recipient(
        "age1yubikey1q2w7u3vpya839jxxuq8g0sedh3d740d4xvn639sqhr95ejj8vu3hyfumptt"
    ));
    assert!(!is_recipient(
        "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw"
    ));
    assert!(!is_recipient("ssh-ed25519 AAAA1"));
}

#[test]
fn identity_lines_are_taken_and_malformed_ones_named_by_line_only() {
    let mut lines = IdentityLines::default();
    assert!(!lines.take("AGE-SECRET-KEY-1XYZ", 1).unwrap());
    let id = age::plugin::Identity::default_for_plugin("sealedtest")
        .unwrap()
        .to_string();
    assert!(lines.take(&id, 2).unwrap());
    assert_eq!(lines.len(), 1);
    let broken = "AGE-PLUGIN-SEALEDTEST-1QQQQSECRETPART";
    let msg = lines.take(broken, 7).unwrap_err();
    assert!(
        msg.starts_with("line 7: malformed age plugin identity"),
        "{msg}"
    );
    assert!(!msg.contains("SECRETPART"), "{msg}");
}

#[test]
fn identities_group_by_plugin() {
    let mut ids = Identities::default();
    assert!(ids.is_empty());
    let mut lines = IdentityLines::default();
    for name in ["one", "two", "one"] {
        let id = age::plugin::Identity::default_for_plugin(name)
            .unwrap()
            .to_string();
        lines.take(&id, 1).unwrap();
    }
    ids.add(lines);
    assert_eq!(format!("{ids:?}"), r#"plugin::Identities(["one", "two"])"#);
}

#[test]
fn plugin_text_is_shown_on_one_line() {
    assert_eq!(
        clean("touch\n\u{1b}[31mme\u{2068}x\u{2069}"),
        "touch??[31mmex"
    );
    assert_eq!(clean(&"a".repeat(300)).chars().count(), 201);
}

#[test]
fn a_missing_plugin_is_named() {
    assert_eq!(
        missing("age-plugin-nope"),
        "`age-plugin-nope` not found on PATH: install the plugin, or add its directory to PATH"
    );
}
