//! SOPS's value-selection rules, as stored in the metadata and in `.sops.yaml` rules.

/// The value-selection rules of SOPS (at most one of the suffix/regex fields is set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// `unencrypted_suffix`.
    pub unencrypted_suffix: Option<String>,
    /// `encrypted_suffix`.
    pub encrypted_suffix: Option<String>,
    /// `unencrypted_regex`.
    pub unencrypted_regex: Option<String>,
    /// `encrypted_regex`.
    pub encrypted_regex: Option<String>,
    /// `unencrypted_comment_regex`.
    pub unencrypted_comment_regex: Option<String>,
    /// `encrypted_comment_regex`.
    pub encrypted_comment_regex: Option<String>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
}
