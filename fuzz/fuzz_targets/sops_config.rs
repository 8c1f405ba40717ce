//! `.sops.yaml`: the YAML value loader (aliases, tags, typing) and the config parser never
//! panic on arbitrary text; rule matching and recipient parsing of whatever rules load
//! never panic either.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// A `.sops.yaml` in a directory of this process's own (`Config::load` reads a path).
fn config_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sealed-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the config directory");
        dir.join(".sops.yaml")
    })
}

fuzz_target!(|data: &[u8]| sealed_fuzz::check_sops_config(data, config_path()));
