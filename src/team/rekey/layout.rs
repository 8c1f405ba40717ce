//! The recipients a file's data key is wrapped to: a file's [`Layout`] (key groups and
//! threshold), and where the target layout of a re-wrap comes from ([`Source`]: the
//! `.sops.yaml` rule, the command line, or, only when asked, the file itself).

use crate::codec::metadata::{MasterKey, Metadata};
use crate::config::CreationRule;
use crate::error::{Error, exit};

/// The recipients of each key group and the Shamir threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Recipients per key group (one group unless Shamir).
    pub groups: Vec<Vec<String>>,
    /// The threshold; only meaningful with more than one group.
    pub threshold: Option<usize>,
}

impl Layout {
    /// What a file is encrypted for now (the keys sealed can wrap to: age and pgp; the
    /// entries of services it does not reach are kept apart, as they are).
    pub fn of_file(md: &Metadata) -> Layout {
        Layout {
            groups: md
                .groups
                .iter()
                .map(|g| {
                    g.iter()
                        .filter(|e| !matches!(e, MasterKey::Service(_)))
                        .map(MasterKey::label)
                        .collect()
                })
                .collect(),
            threshold: md.shamir_threshold,
        }
    }

    /// What a creation rule gives.
    pub fn of_rule(rule: &CreationRule) -> Layout {
        Layout {
            groups: rule.key_groups.clone(),
            threshold: rule.shamir_threshold,
        }
    }

    /// The threshold that applies: none with one group, else the given one or every group.
    pub fn effective_threshold(&self) -> Option<usize> {
        (self.groups.len() > 1).then(|| self.threshold.unwrap_or(self.groups.len()))
    }

    /// Whether `recipient` is in any group.
    pub fn contains(&self, recipient: &str) -> bool {
        self.groups.iter().flatten().any(|r| r == recipient)
    }

    /// The same layout without `recipient`.
    pub fn without(&self, recipient: &str) -> Layout {
        Layout {
            groups: self
                .groups
                .iter()
                .map(|g| g.iter().filter(|r| *r != recipient).cloned().collect())
                .collect(),
            threshold: self.threshold,
        }
    }

    /// The same layout with `recipient` added to group `group` (unless it is there).
    pub fn with(&self, recipient: &str, group: usize) -> Layout {
        let mut out = self.clone();
        if let Some(g) = out.groups.get_mut(group)
            && !g.iter().any(|r| r == recipient)
        {
            g.push(recipient.to_string());
        }
        out
    }

    /// Refuses a layout that nobody could decrypt: an empty group, no group, or a
    /// threshold that the groups cannot reach.
    pub(super) fn check(&self, name: &str) -> Result<(), Error> {
        let fail = |msg: String| Err(Error::file(name, exit::NO_RECIPIENT, msg));
        if self.groups.iter().all(Vec::is_empty) {
            return fail("this would leave the file without any age recipient".into());
        }
        if let Some(g) = self.groups.iter().position(Vec::is_empty) {
            return fail(format!(
                "this would leave key group {g} without recipients, so its key share would be lost"
            ));
        }
        if let Some(t) = self.effective_threshold()
            && (t < 2 || t > self.groups.len())
        {
            return fail(format!(
                "a Shamir threshold of {t} does not work with {} key groups",
                self.groups.len()
            ));
        }
        Ok(())
    }
}

/// Where the recipients of a re-wrap or rotation come from. Only `.sops.yaml` and the
/// command line decide: the recipient labels, key groups and threshold in a file's metadata
/// are not authenticated (anyone who can edit the file can add an entry), so they are only
/// used when the user opts in with `--keep-file-recipients`.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The layout the rules or flags give, if any.
    pub given: Option<Layout>,
    /// Also keep the recipients (and, with nothing given, the groups and threshold) found
    /// only in the file.
    pub keep_file: bool,
    /// A recipient to leave out in any case (a member being removed).
    pub without: Option<String>,
    /// What to tell the user when nothing is given and `keep_file` is off: how to pass
    /// recipients (a sentence, e.g. "pass --age …").
    pub how: String,
}

/// A recipient as shown in a message: control characters as `?`, a long one cut (a hostile
/// file can hold anything in a label).
fn shown(r: &str) -> String {
    let c: Vec<char> = r
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    match c.len() {
        ..=100 => c.into_iter().collect(),
        n => format!(
            "{}…{}",
            String::from_iter(&c[..40]),
            String::from_iter(&c[n - 40..])
        ),
    }
}

impl Source {
    /// The layout to wrap `md`'s file to, and a warning line (without the `sealed: `
    /// prefix) naming the recipients found only in the file: dropped, or kept with
    /// `keep_file`. Refuses a file for which nothing is given, unless `keep_file`.
    pub fn layout(&self, name: &str, md: &Metadata) -> Result<(Layout, Option<String>), Error> {
        let file = Layout::of_file(md);
        let Some(given) = &self.given else {
            if !self.keep_file {
                return Err(Error::file(
                    name,
                    exit::NO_RECIPIENT,
                    format!(
                        "no .sops.yaml creation rule matches this file, and sealed never takes \
                         the recipients from the file itself (anyone who can edit it can add \
                         one there): {}",
                        self.how
                    ),
                ));
            }
            let mut layout = match &self.without {
                Some(r) => file.without(r),
                None => file,
            };
            let plugins = plugin_recipients(&layout);
            for r in &plugins {
                layout = layout.without(r);
            }
            let all: Vec<&String> = layout.groups.iter().flatten().collect();
            let line = format!(
                "{name}: no .sops.yaml rule matches it; kept the recipients named in the file \
                 ({}{}) because of --keep-file-recipients",
                all.iter()
                    .take(5)
                    .map(|r| shown(r))
                    .collect::<Vec<_>>()
                    .join(", "),
                match all.len() {
                    0..=5 => String::new(),
                    n => format!(" and {} more", n - 5),
                }
            ) + &never_started(&plugins);
            return Ok((layout, Some(line)));
        };
        let mut layout = match &self.without {
            Some(r) => given.without(r),
            None => given.clone(),
        };
        let mut extra = Vec::new();
        let mut plugins = Vec::new();
        for (g, group) in file.groups.iter().enumerate() {
            for r in group {
                if given.contains(r) || self.without.as_deref() == Some(r.as_str()) {
                    continue;
                }
                if self.keep_file && crate::keys::plugin::is_recipient(r) {
                    if !plugins.contains(r) {
                        plugins.push(r.clone());
                    }
                    continue;
                }
                if !extra.contains(r) {
                    extra.push(r.clone());
                }
                if self.keep_file && !layout.groups.is_empty() {
                    let to = g.min(layout.groups.len() - 1);
                    layout = layout.with(r, to);
                }
            }
        }
        if extra.is_empty() && plugins.is_empty() {
            return Ok((layout, None));
        }
        if extra.is_empty() {
            let line = format!("{name}: {}", &never_started(&plugins)[2..]);
            return Ok((layout, Some(line)));
        }
        let list = extra
            .iter()
            .take(5)
            .map(|r| shown(r))
            .collect::<Vec<_>>()
            .join(", ");
        let more = match extra.len() {
            0..=5 => String::new(),
            n => format!(" and {} more", n - 5),
        };
        let line = if self.keep_file {
            format!(
                "{name}: kept {list}{more} (named only in the file, not by .sops.yaml or --age) because of --keep-file-recipients{}",
                never_started(&plugins)
            )
        } else {
            format!(
                "{name}: dropped {list}{more} (named only in the file, not by .sops.yaml or --age; add them to .sops.yaml, or pass --keep-file-recipients to keep them)"
            )
        };
        Ok((layout, Some(line)))
    }
}

/// The age plugin recipients (`age1<name>1…`) of a layout.
fn plugin_recipients(layout: &Layout) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for r in layout.groups.iter().flatten() {
        if crate::keys::plugin::is_recipient(r) && !found.contains(r) {
            found.push(r.clone());
        }
    }
    found
}

/// The end of a warning line for age plugin recipients named only in the file, which
/// `--keep-file-recipients` does not keep: wrapping to one would start the plugin binary
/// the (unauthenticated) label names.
fn never_started(plugins: &[String]) -> String {
    if plugins.is_empty() {
        return String::new();
    }
    let list: Vec<String> = plugins.iter().take(5).map(|r| shown(r)).collect();
    format!(
        "; dropped {} (age plugin recipients named only in the file: sealed never starts a \
         plugin the file names; add them to .sops.yaml or pass them with --age)",
        list.join(", ")
    )
}
