//! Git integration: files are plaintext in the work tree and SOPS ciphertext in every
//! commit. `setup` configures a repository, `filter` holds the clean/smudge/textconv logic,
//! `process` speaks git's long-running filter protocol over `pktline`, `merge` is the
//! three-way merge driver, and `check` is the guard that refuses plaintext blobs.

pub mod check;
pub mod filter;
pub mod leak;
pub mod merge;
pub mod pktline;
pub mod process;
pub mod setup;
