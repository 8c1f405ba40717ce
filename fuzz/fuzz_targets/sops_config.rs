//! `.sops.yaml`: the YAML value loader (aliases, tags, typing) and the config parser never
//! panic on arbitrary text; rule matching and recipient parsing of whatever rules load
//! never panic either.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sealed::config::Config;
use sealed::format::yaml_value;
use sealed::keys::Recipient;

/// A `.sops.yaml` in a directory of this process's own (`Config::load` reads a path).
fn config_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sealed-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the config directory");
        dir.join(".sops.yaml")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(docs) = yaml_value::load(src) {
        for doc in &docs {
            let _ = serde_json::to_string(doc).expect("loaded values serialize");
        }
    }
    let path = config_path();
    std::fs::write(path, data).expect("write the config");
    let Ok(config) = Config::load(path) else {
        return;
    };
    let dir = path.parent().expect("has a directory");
    for file in ["secrets.yaml", "prod/db.env", "a/b/c.json"] {
        let _ = config.rule_for(&dir.join(file));
    }
    for rule in config.rules.iter().take(8) {
        for recipient in rule.key_groups.iter().flatten().take(16) {
            let _ = Recipient::parse(recipient);
        }
    }
});
