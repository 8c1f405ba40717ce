//! Git integration: files are plaintext in the work tree and SOPS ciphertext in every
//! commit. `setup` configures a repository, `filter` holds the clean/smudge/textconv logic,
//! `process` speaks git's long-running filter protocol over `pktline`, `merge` is the
//! three-way merge driver, and `check` is the guard that refuses plaintext blobs. `globs`
//! turns `.sops.yaml` rules into gitattributes patterns; `lock` turns the work tree back
//! into ciphertext. `scan` looks for the values of sealed files in clear text elsewhere.

pub mod check;
pub mod filter;
pub mod globs;
pub mod known;
pub mod leak;
pub mod lock;
pub mod merge;
pub mod pktline;
pub mod process;
pub mod scan;
pub mod setup;
pub mod worktree;
