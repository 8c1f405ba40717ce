//! sealed: keep secrets encrypted inside git repositories, in SOPS's on-disk format,
//! without ever reformatting the file.
//!
//! The crate is split by concern:
//! - [`format`]: the three document syntaxes (YAML, JSON, .env), each turned into one
//!   common [`format::Outline`] of byte spans;
//! - [`engine`]: the single format-preserving engine that encrypts and decrypts an outline
//!   by splicing value spans;
//! - [`codec`]: SOPS's value tokens (`ENC[AES256_GCM,...]`), MAC and metadata block;
//! - [`keys`]: age identities and recipients, data-key wrapping, key generation;
//! - [`config`]: `.sops.yaml` discovery and creation rules;
//! - [`commands`]: the command-line verbs.

pub mod codec;
pub mod commands;
pub mod config;
pub mod data;
pub mod edit;
pub mod engine;
pub mod error;
pub mod format;
pub mod fsutil;
pub mod git;
pub mod keys;
pub mod plan;
pub mod publish;
pub mod team;
#[cfg(test)]
pub(crate) mod testutil;
