//! Checks of what `team` writes into `.sops.yaml`: member names and recipient texts.

use super::TeamError;

/// Checks a member name: a letter, then letters, digits and `._@+-` (at most 64).
pub fn check_name(name: &str) -> Result<(), TeamError> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(TeamError::Refused(format!(
            "invalid member name {:?}: use a letter, then letters, digits and . _ @ + - (at most 64)",
            name.chars().take(64).collect::<String>()
        )))
    }
}

/// Checks that a recipient can be written into `.sops.yaml` as it is: no comma (sops splits
/// on commas), no quote, backslash or `#`, single spaces only.
pub fn check_recipient_text(recipient: &str) -> Result<(), TeamError> {
    let ok = !recipient.is_empty()
        && recipient
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=@._:- ".contains(c))
        && !recipient.contains("  ")
        && !recipient.contains(": ")
        && recipient.trim() == recipient;
    if ok {
        Ok(())
    } else {
        Err(TeamError::Refused(
            "this recipient cannot be written into .sops.yaml safely (it holds a comma, quote, \
             `#`, `: ` or repeated spaces); drop or simplify the ssh key's comment"
                .to_string(),
        ))
    }
}
