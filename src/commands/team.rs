//! `sealed team add|remove|list`: members in `.sops.yaml`, and the files of the repository
//! re-wrapped (add) or rotated (remove) to match.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::Sealed;
use crate::error::{Error, exit};
use crate::keys::Recipient;
use crate::team::batch::{self, Step};
use crate::team::exposure::encrypted_paths;
use crate::team::files::{Configs, Job, Repo, Scope, tracked_jobs};
use crate::team::rekey::{self, Source};
use crate::team::say;
use crate::team::sopsfile::{Member, SopsFile, check_name};
use crate::team::{TeamError, config_path, identities, same_file};

/// `sealed team`: who can decrypt the repository's secrets.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: TeamCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum TeamCommand {
    /// Add a member to `.sops.yaml` (the registry and the creation rules), then re-wrap the
    /// data key of every tracked file those rules match, so the member can decrypt them.
    /// Value ciphertext does not change.
    Add {
        /// The member's name (letters, digits, `._@+-`).
        name: String,
        /// Their public key: age1…, an ssh-ed25519 / ssh-rsa public key, a PGP key's
        /// fingerprint (`pgp:FINGERPRINT`, or its hex digits alone; written under `pgp:`),
        /// an AWS KMS key (`arn:aws:kms:…[+ROLE]`, under `kms:`) or a Vault transit key URI
        /// (under `hc_vault_transit_uri:`, a key group's `hc_vault:`).
        recipient: String,
        /// The creation rule(s) to add them to: an index (0 is the first rule) or a file
        /// path (the rule that matches it). Default: every rule with age recipients.
        #[arg(long = "rule", value_name = "N|PATH")]
        rules: Vec<String>,
        /// The key group (0 is the first) for rules with key_groups.
        #[arg(long, value_name = "N", default_value_t = 0)]
        group: usize,
        /// Use this .sops.yaml instead of the nearest one above the working directory.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Keep the recipients named only in a file (not by `.sops.yaml`), which are
        /// otherwise dropped from it (with a warning naming them).
        #[arg(long)]
        keep_file_recipients: bool,
    },
    /// Remove a member from `.sops.yaml`, rotate every file they could read (new data key,
    /// every value re-encrypted), and list the values they may still know from old commits.
    Remove {
        /// The member's name (or, to finish an earlier removal, their recipient).
        name: String,
        /// Only re-wrap the data keys without them (they may still hold the keys): warns.
        #[arg(long)]
        no_rotate: bool,
        /// Use this .sops.yaml instead of the nearest one above the working directory.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Keep the recipients named only in a file (not by `.sops.yaml`), which are
        /// otherwise dropped from it (with a warning naming them); for a file no rule
        /// matches, keep its other recipients, key groups and threshold.
        #[arg(long)]
        keep_file_recipients: bool,
    },
    /// Members, their recipients, the rules that name them and the files each can open.
    List {
        /// Use this .sops.yaml instead of the nearest one above the working directory.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// Runs `sealed team`.
pub fn run(args: &Args) -> Result<(), Error> {
    match &args.command {
        TeamCommand::Add {
            name,
            recipient,
            rules,
            group,
            config,
            keep_file_recipients,
        } => add(
            name,
            recipient,
            rules,
            *group,
            config.as_deref(),
            *keep_file_recipients,
        ),
        TeamCommand::Remove {
            name,
            no_rotate,
            config,
            keep_file_recipients,
        } => remove(name, *no_rotate, config.as_deref(), *keep_file_recipients),
        TeamCommand::List { config } => list(config.as_deref()),
    }
}

fn cwd() -> Result<PathBuf, Error> {
    std::env::current_dir().map_err(|e| {
        Error::other(
            exit::GENERIC,
            format!("cannot read the working directory: {e}"),
        )
    })
}

/// `--rule` values as rule indexes.
fn rule_indexes(sops: &SopsFile, given: &[String]) -> Result<Vec<usize>, Error> {
    if given.is_empty() {
        let all = sops.age_rules();
        if all.is_empty() {
            return Err(TeamError::Refused(format!(
                "{}: no creation rule has age recipients; name one with --rule N",
                sops.path.display()
            ))
            .into());
        }
        return Ok(all);
    }
    let mut out = Vec::new();
    for g in given {
        let i = match g.parse::<usize>() {
            Ok(i) if i < sops.config.rules.len() => i,
            Ok(i) => {
                return Err(TeamError::Refused(format!(
                    "{}: there is no creation_rules[{i}] (it has {} rules)",
                    sops.path.display(),
                    sops.config.rules.len()
                ))
                .into());
            }
            Err(_) => {
                let abs = std::path::absolute(g).unwrap_or_else(|_| PathBuf::from(g));
                let rule = sops.config.rule_for(&abs).ok_or_else(|| {
                    TeamError::Refused(format!(
                        "{}: no creation rule matches {g}",
                        sops.path.display()
                    ))
                })?;
                sops.config
                    .rules
                    .iter()
                    .position(|r| std::ptr::eq(r, rule))
                    .unwrap_or(0)
            }
        };
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

fn rules_text(rules: &[usize]) -> String {
    rules
        .iter()
        .map(|i| format!("creation_rules[{i}]"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn add(
    name: &str,
    recipient: &str,
    rules: &[String],
    group: usize,
    config: Option<&Path>,
    keep_file: bool,
) -> Result<(), Error> {
    check_name(name)?;
    let parsed = member_recipient(recipient)?;
    let member = Member {
        name: name.to_string(),
        recipient: parsed.text().to_string(),
    };
    let path = config_path(config)?;
    let sops = SopsFile::load(&path)?;
    let rules = rule_indexes(&sops, rules)?;
    let edit = sops.add(&member, &rules, group)?;
    let sops = if edit.is_empty() {
        say(format!(
            "{name} is already in {} ({})",
            sops.path.display(),
            rules_text(&rules)
        ));
        sops
    } else {
        let saved = sops.save(&edit)?;
        let mut what = Vec::new();
        if !edit.rules_changed.is_empty() {
            what.push(rules_text(&edit.rules_changed));
        }
        if edit.registry_changed {
            what.push(crate::team::sopsfile::REGISTRY_KEY.to_string());
        }
        say(format!(
            "added {name} to {} ({})",
            saved.path.display(),
            what.join(", ")
        ));
        saved
    };

    let Some(repo) = Repo::discover(&cwd()?) else {
        eprintln!(
            "sealed: warning: not in a git repository, so no file was re-wrapped; run `sealed updatekeys FILE…` for the files {name} should open"
        );
        return Ok(());
    };
    let mut configs = Configs::new(config)?;
    let mut jobs: Vec<Job> = tracked_jobs(&repo, &mut configs, Scope::Rules, false)?
        .into_iter()
        .filter(|j| {
            j.rule
                .as_ref()
                .is_some_and(|r| rules.contains(&r.index) && same_file(&r.config, &sops.path))
        })
        .collect();
    let ids = identities()?;
    let summary = batch::run(&mut jobs, Some(&repo), |job| {
        // The rule as saved above, so it names the new member: the file gets exactly the
        // recipients it gives (never those found only in the file).
        let source = Source {
            given: job.rule.as_ref().map(|r| r.layout.clone()),
            keep_file,
            without: None,
            how: String::new(),
        };
        let mut warning = None;
        let target = |md: &crate::codec::metadata::Metadata| {
            let (layout, w) = source.layout(&job.name, md)?;
            warning = w;
            Ok(layout)
        };
        let out = rekey::rewrap(&job.name, &job.text, job.syntax, target, &ids)?;
        Ok(match out {
            Some((text, change)) => Step {
                text: Some(text),
                change,
                line: format!("re-wrapped {} (+{name})", job.name),
                warning,
                ..Step::default()
            },
            None => Step {
                warning,
                ..Step::default()
            },
        })
    });
    let already = summary
        .steps
        .iter()
        .filter(|s| s.as_ref().is_some_and(|s| !s.written))
        .count();
    let mut msg = format!(
        "{name} can now decrypt {} file(s)",
        summary.written + already
    );
    if already > 0 {
        msg.push_str(&format!(" ({already} already could)"));
    }
    if summary.written > 0 {
        msg.push_str("; commit .sops.yaml and the re-wrapped files");
    }
    if summary.failed.is_empty() {
        say(&msg);
    }
    summary.finish(
        "team add",
        &format!("sealed team add {name} {}", member.recipient),
        "",
    )
}

/// A member's key: an age or ssh recipient, `pgp:FINGERPRINT`, a bare fingerprint, an AWS
/// KMS key (`arn:aws:kms:…[+ROLE]`) or a Vault transit key URI.
fn member_recipient(text: &str) -> Result<Recipient, Error> {
    let hex = crate::keys::pgp::normalize_fingerprint(text);
    let parsed = if text.trim().starts_with("arn:") {
        Recipient::parse_any(&format!("{}{}", crate::keys::KMS_PREFIX, text.trim()))
    } else if crate::keys::pgp::is_fingerprint(&hex) {
        Recipient::pgp(&hex)
    } else {
        Recipient::parse_any(text)
    };
    parsed.map_err(|e| Error::other(exit::GENERIC, e.to_string()))
}

fn resolve(sops: &SopsFile, name: &str) -> Result<Member, Error> {
    if let Some(m) = sops.find(name) {
        return Ok(m);
    }
    if let Ok(r) = member_recipient(name) {
        let recipient = r.text().to_string();
        let name = sops
            .name_of(&recipient)
            .unwrap_or_else(|| recipient.clone());
        return Ok(Member { name, recipient });
    }
    let known: Vec<String> = sops
        .members()
        .unwrap_or_default()
        .into_iter()
        .chain(sops.comment_names())
        .map(|m| m.name)
        .collect();
    let list = if known.is_empty() {
        "it has no named members".to_string()
    } else {
        format!("members: {}", known.join(", "))
    };
    Err(TeamError::Refused(format!(
        "{}: {name} is not a member ({list}); to finish an earlier removal, pass their recipient (age1…) instead of the name",
        sops.path.display()
    ))
    .into())
}

/// Whether the creation rule that matches the job names `r`.
fn rule_names(job: &Job, r: &str) -> bool {
    job.rule
        .as_ref()
        .is_some_and(|rule| rule.layout.contains(r))
}

/// Whether the file is already encrypted for exactly what its rule gives without `r`
/// (entry for entry: an entry relabelled by an editor still counts), e.g. by an earlier run
/// of `team remove` that stopped before `.sops.yaml` was saved.
fn already_without(job: &Job, r: &str) -> bool {
    let (Some(rule), Ok(sealed)) = (&job.rule, Sealed::parse(&job.text, job.syntax.format()))
    else {
        return false;
    };
    let sorted = |l: rekey::Layout| {
        let threshold = l.effective_threshold();
        let mut groups = l.groups;
        groups.iter_mut().for_each(|g| g.sort());
        (groups, threshold)
    };
    sorted(rekey::Layout::of_file(&sealed.metadata)) == sorted(rule.layout.without(r))
}

fn has_recipient(text: &str, syntax: crate::format::Syntax, r: &str) -> bool {
    Sealed::parse(text, syntax.format()).is_ok_and(|s| s.metadata.recipients().any(|x| x == r))
}

fn remove(
    name: &str,
    no_rotate: bool,
    config: Option<&Path>,
    keep_file: bool,
) -> Result<(), Error> {
    let path = config_path(config)?;
    let sops = SopsFile::load(&path)?;
    let member = resolve(&sops, name)?;
    // Checked (and computed) before any file is touched.
    let edit = sops.remove(&member)?;
    let Some(repo) = Repo::discover(&cwd()?) else {
        return Err(TeamError::Refused(
            "team remove works on a git repository (its tracked files); run it inside one".into(),
        )
        .into());
    };
    let mut configs = Configs::new(config)?;
    let r = member.recipient.clone();
    let mut jobs: Vec<Job> = tracked_jobs(&repo, &mut configs, Scope::All, true)?
        .into_iter()
        // Every file whose rule names them (the labels in a file are not authenticated: an
        // editor may have taken theirs out), and every file whose metadata does — a cheap
        // first cut here; the metadata is checked for each file by the workers.
        .filter(|j| {
            rule_names(j, &r)
                || j.text.contains(&r)
                || j.head.as_deref().is_some_and(|h| h.contains(&r))
        })
        .collect();
    let ids = identities()?;
    let who = &member.name;
    let summary = batch::run(&mut jobs, Some(&repo), |job| {
        let mut exposed = Vec::new();
        let named = has_recipient(&job.text, job.syntax, &r);
        let now = named || (rule_names(job, &r) && !already_without(job, &r));
        if named {
            exposed = encrypted_paths(&job.text, job.syntax);
        }
        if let Some(head) = job
            .head
            .as_deref()
            .filter(|h| has_recipient(h, job.syntax, &r))
        {
            for p in encrypted_paths(head, job.syntax) {
                if !exposed.contains(&p) {
                    exposed.push(p);
                }
            }
        }
        if !now {
            return Ok(Step {
                exposed,
                ..Step::default()
            });
        }
        // The rule as it will be once they are removed: the file gets exactly its
        // recipients (never those found only in the file, unless the user opts in).
        let source = Source {
            given: job.rule.as_ref().map(|rule| rule.layout.clone()),
            keep_file,
            without: Some(r.clone()),
            how: format!(
                "rotate it with `sealed rotate --age RECIPIENT[,RECIPIENT…] {file}` and run this \
                 again, or run `sealed team remove {name} --keep-file-recipients` to keep its \
                 other recipients",
                file = job.name
            ),
        };
        let mut warning = None;
        let target = |md: &crate::codec::metadata::Metadata| {
            let (layout, w) = source.layout(&job.name, md)?;
            warning = w;
            Ok(layout)
        };
        let (text, change, line) = if no_rotate {
            match rekey::rewrap(&job.name, &job.text, job.syntax, target, &ids)? {
                Some((t, c)) => (t, c, format!("re-wrapped {} (-{who})", job.name)),
                None => {
                    return Ok(Step {
                        exposed,
                        warning,
                        ..Step::default()
                    });
                }
            }
        } else {
            let (t, c) = rekey::rotate(&job.name, &job.text, job.syntax, target, &ids)?;
            (t, c, format!("rotated {}", job.name))
        };
        Ok(Step {
            text: Some(text),
            change,
            exposed,
            line,
            written: false,
            warning,
        })
    });

    let mut saved = false;
    if summary.failed.is_empty() && !edit.is_empty() {
        sops.save(&edit)?;
        saved = true;
    }
    let verb = if no_rotate { "re-wrapped" } else { "rotated" };
    say("");
    if saved {
        say(format!(
            "{who} ({}) is removed from {}; {} file(s) {verb}.",
            member.recipient,
            path.display(),
            summary.written
        ));
    } else if summary.failed.is_empty() {
        say(format!(
            "{who} was no longer in {}; {} file(s) {verb}.",
            path.display(),
            summary.written
        ));
    }
    let exposed: BTreeMap<&str, &Vec<String>> = summary
        .steps
        .iter()
        .zip(&jobs)
        .filter_map(|(s, j)| s.as_ref().map(|s| (j.name.as_str(), &s.exposed)))
        .filter(|(_, e)| !e.is_empty())
        .collect();
    if exposed.is_empty() {
        say(format!(
            "{who} could not read any value of the tracked files."
        ));
    } else {
        say(format!(
            "{who} could read these values, and old commits keep them readable: change each one at its source (rotate the credentials upstream):"
        ));
        for (file, paths) in &exposed {
            say(format!("  {file}: {}", paths.join(", ")));
        }
    }
    if summary.written > 0 {
        say(format!(
            "Commit the changes so that HEAD no longer opens for {who}."
        ));
    }
    if no_rotate && summary.written > 0 {
        eprintln!(
            "sealed: warning: --no-rotate: these files keep their data key, which {who} may still hold (from any copy of them); run `sealed rotate` to lock {who} out"
        );
    }
    let note = format!(
        "; {} still lists {who}: it changes once every file is done",
        path.display()
    );
    summary.finish("team remove", &format!("sealed team remove {name}"), &note)
}

fn list(config: Option<&Path>) -> Result<(), Error> {
    let path = config_path(config)?;
    let sops = SopsFile::load(&path)?;
    // Every recipient: registry first, then the rules', then the files'.
    let mut order: Vec<String> = Vec::new();
    let push = |r: &str, order: &mut Vec<String>| {
        if !order.iter().any(|x| x == r) {
            order.push(r.to_string());
        }
    };
    for m in sops.members()? {
        push(&m.recipient, &mut order);
    }
    for rule in &sops.config.rules {
        for r in rule.key_groups.iter().flatten() {
            push(r, &mut order);
        }
    }
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let repo = Repo::discover(&cwd()?);
    if let Some(repo) = &repo {
        let mut configs = Configs::new(config)?;
        for job in tracked_jobs(repo, &mut configs, Scope::All, false)? {
            let Ok(sealed) = Sealed::parse(&job.text, job.syntax.format()) else {
                continue;
            };
            let md = &sealed.metadata;
            for (g, group) in md.groups.iter().enumerate() {
                for e in group {
                    let label = e.label();
                    push(&label, &mut order);
                    let note = match md.shamir_threshold {
                        Some(t) if md.groups.len() > 1 => {
                            format!(" (share {}/{}, {t} needed)", g + 1, md.groups.len())
                        }
                        _ => String::new(),
                    };
                    files
                        .entry(label)
                        .or_default()
                        .push(format!("{}{note}", job.name));
                }
            }
        }
    }
    let registry = sops.members()?;
    let comments = sops.comment_names();
    for r in &order {
        let registered = registry.iter().find(|m| &m.recipient == r);
        let name = registered
            .or_else(|| comments.iter().find(|m| &m.recipient == r))
            .map_or("(no name)", |m| m.name.as_str());
        let mark = if registered.is_some() {
            ""
        } else {
            "  [not in sealed_members]"
        };
        say(format!("{name}  {r}{mark}"));
        let rules = sops.rules_with(r);
        if rules.is_empty() {
            say(format!("  rules: none in {}", path.display()));
        } else {
            say(format!("  rules: {}", rules_text(&rules)));
        }
        match (&repo, files.get(r)) {
            (None, _) => say("  files: (not in a git repository)"),
            (Some(_), None) => say("  files: none"),
            (Some(_), Some(f)) => say(format!("  files ({}): {}", f.len(), f.join(", "))),
        }
    }
    Ok(())
}
