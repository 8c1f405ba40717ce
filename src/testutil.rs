//! Helpers for unit tests: the reference material in `../shared/` beside the project root
//! (sops fixtures, corpora). Tests skip, saying so, when it is absent.

use std::path::{Path, PathBuf};

/// `../shared/<rel>` beside the project root when it exists; otherwise `None`, with a note
/// on stderr that the calling test is skipped.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} not present", p.display());
        None
    }
}

/// The sops 3.11 fixtures directory (`../shared/sops-fixtures/generated-sops-3.11.0`).
pub fn sops_fixtures() -> Option<PathBuf> {
    shared("sops-fixtures/generated-sops-3.11.0")
}

/// Every file below `dir`, recursively, in sorted order.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}
