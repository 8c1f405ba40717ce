//! Which files a command acts on, and where each one's ciphertext lives.
//!
//! With no file named, the files are the tracked files (stage 0 of the git index of the
//! repository around the working directory, regular files only) that a `.sops.yaml`
//! creation rule matches — the nearest `.sops.yaml` above each file, as `sealed encrypt`
//! finds it — and that are sealed: either the work-tree file itself, or, for files kept
//! plaintext in the work tree by the git filter, the blob in the index. A work-tree file is
//! rewritten atomically; index blobs are written as new objects and the index is updated
//! once, atomically, at the end (the plaintext work-tree file stays as it is).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{Oid, Repository};

use super::TeamError;
use super::rekey::Layout;
use crate::config::Config;
use crate::engine::Sealed;
use crate::error::{Error, display_path, exit};
use crate::format::Syntax;

/// The repository around the working directory.
pub struct Repo {
    repo: Repository,
    root: PathBuf,
}

/// Where a file's ciphertext is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The work-tree file is sealed; it is rewritten in place.
    WorkTree,
    /// The work-tree file is plaintext (the git filter); the index blob is rewritten.
    Index,
}

/// The creation rule that matches a file.
#[derive(Debug, Clone)]
pub struct RuleRef {
    /// The `.sops.yaml` it comes from.
    pub config: PathBuf,
    /// Its index in `creation_rules`.
    pub index: usize,
    /// The recipients it gives.
    pub layout: Layout,
}

/// One file to act on.
#[derive(Debug)]
pub struct Job {
    /// The name shown in messages (relative to the repository root, or as given).
    pub name: String,
    /// The work-tree path.
    pub path: PathBuf,
    /// The path in the index, for files in the repository.
    pub rel: Option<String>,
    /// The syntax.
    pub syntax: Syntax,
    /// Where the ciphertext is.
    pub source: Source,
    /// The sealed text.
    pub text: String,
    /// HEAD's version of the file, when asked for and different from `text`.
    pub head: Option<String>,
    /// The matching creation rule, if any.
    pub rule: Option<RuleRef>,
    /// Why the file cannot be worked on (e.g. it cannot be read); reported as its failure.
    pub problem: Option<Error>,
}

impl Repo {
    /// The repository with a work tree around `start`, if any.
    pub fn discover(start: &Path) -> Option<Repo> {
        let repo = Repository::discover(start).ok()?;
        let root = repo.workdir()?.to_path_buf();
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        Some(Repo { repo, root })
    }

    /// The work tree's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Tracked regular files (stage 0): path and blob id.
    fn tracked(&self) -> Result<Vec<(String, Oid)>, TeamError> {
        let index = self.repo.index()?;
        let mut out = Vec::new();
        for e in index.iter() {
            let stage = (e.flags >> 12) & 0x3;
            let regular = e.mode & 0o170000 == 0o100000;
            if stage != 0 || !regular {
                continue;
            }
            if let Ok(p) = String::from_utf8(e.path.clone()) {
                out.push((p, e.id));
            }
        }
        Ok(out)
    }

    /// The index's blob for a path (stage 0).
    fn index_oid(&self, rel: &str) -> Option<Oid> {
        let index = self.repo.index().ok()?;
        index.get_path(Path::new(rel), 0).map(|e| e.id)
    }

    fn blob_text(&self, id: Oid) -> Option<String> {
        let blob = self.repo.find_blob(id).ok()?;
        String::from_utf8(blob.content().to_vec()).ok()
    }

    /// The blobs of HEAD's tree by path (one walk: looking paths up one by one would read
    /// and hash the same subtrees again for every file).
    fn head_blobs(&self) -> HashMap<String, Oid> {
        let mut out = HashMap::new();
        let Some(tree) = self.repo.head().ok().and_then(|h| h.peel_to_tree().ok()) else {
            return out;
        };
        let _ = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob)
                && let Ok(name) = entry.name()
            {
                out.insert(format!("{dir}{name}"), entry.id());
            }
            git2::TreeWalkResult::Ok
        });
        out
    }

    /// HEAD's version of a path.
    pub fn head_text(&self, rel: &str) -> Option<String> {
        let tree = self.repo.head().ok()?.peel_to_tree().ok()?;
        let entry = tree.get_path(Path::new(rel)).ok()?;
        self.blob_text(entry.id())
    }

    /// The path of a work-tree file relative to the root, `/`-separated.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let abs = std::path::absolute(path).ok()?;
        let dir = abs.parent().and_then(|d| std::fs::canonicalize(d).ok())?;
        let abs = dir.join(abs.file_name()?);
        let rel = abs.strip_prefix(&self.root).ok()?;
        Some(rel.to_string_lossy().replace('\\', "/"))
    }

    /// Writes new blobs for index paths and updates the index once, atomically. The
    /// entries keep their stat data, so the plaintext work-tree files stay clean.
    pub fn stage(&self, updates: &[(String, String)]) -> Result<(), TeamError> {
        let mut index = self.repo.index()?;
        for (rel, text) in updates {
            let id = self.repo.blob(text.as_bytes())?;
            let Some(mut entry) = index.get_path(Path::new(rel), 0) else {
                return Err(TeamError::Git(format!("{rel} is no longer in the index")));
            };
            entry.id = id;
            index.add(&entry)?;
        }
        index.write()?;
        Ok(())
    }
}

/// `.sops.yaml` files by directory, loaded once each.
pub struct Configs {
    explicit: Option<Arc<Config>>,
    by_dir: HashMap<PathBuf, Option<Arc<Config>>>,
    loaded: HashMap<PathBuf, Arc<Config>>,
}

impl Configs {
    /// Nearest `.sops.yaml` above each file, or always `explicit` when given.
    pub fn new(explicit: Option<&Path>) -> Result<Configs, TeamError> {
        let explicit = match explicit {
            Some(p) => Some(Arc::new(Config::load(p).map_err(|e| {
                TeamError::Config {
                    file: e.file,
                    msg: e.msg,
                }
            })?)),
            None => None,
        };
        Ok(Configs {
            explicit,
            by_dir: HashMap::new(),
            loaded: HashMap::new(),
        })
    }

    fn config_for(&mut self, file: &Path) -> Result<Option<Arc<Config>>, TeamError> {
        if let Some(c) = &self.explicit {
            return Ok(Some(c.clone()));
        }
        let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        if let Some(c) = self.by_dir.get(&dir) {
            return Ok(c.clone());
        }
        let found = match Config::discover(&dir) {
            None => None,
            Some(path) => match self.loaded.get(&path) {
                Some(c) => Some(c.clone()),
                None => {
                    let c = Arc::new(Config::load(&path).map_err(|e| TeamError::Config {
                        file: e.file,
                        msg: e.msg,
                    })?);
                    self.loaded.insert(path, c.clone());
                    Some(c)
                }
            },
        };
        self.by_dir.insert(dir, found.clone());
        Ok(found)
    }

    /// The rule that matches `file` (an absolute path).
    pub fn rule_for(&mut self, file: &Path) -> Result<Option<RuleRef>, TeamError> {
        let Some(config) = self.config_for(file)? else {
            return Ok(None);
        };
        let Some(rule) = config.rule_for(file) else {
            return Ok(None);
        };
        let index = config
            .rules
            .iter()
            .position(|r| std::ptr::eq(r, rule))
            .unwrap_or(0);
        Ok(Some(RuleRef {
            config: config.path.clone(),
            index,
            layout: Layout::of_rule(rule),
        }))
    }
}

fn is_sealed(text: &str, syntax: Syntax) -> bool {
    // Every syntax stores the metadata under `sops` (or `sops_…` lines): a cheap test first.
    text.contains("sops") && Sealed::parse(text, syntax.format()).is_ok()
}

/// Which tracked files to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only files that a `.sops.yaml` creation rule matches.
    Rules,
    /// Every sealed file (e.g. to find each file a member could read).
    All,
}

/// Every tracked file that is sealed (work tree or index) and, with [`Scope::Rules`], that a
/// rule matches. `head`: also read HEAD's version of each.
pub fn tracked_jobs(
    repo: &Repo,
    configs: &mut Configs,
    scope: Scope,
    head: bool,
) -> Result<Vec<Job>, Error> {
    let mut jobs = Vec::new();
    let head_blobs = if head {
        repo.head_blobs()
    } else {
        HashMap::new()
    };
    for (rel, id) in repo.tracked()? {
        let Some(syntax) = Syntax::from_path(Path::new(&rel)) else {
            continue;
        };
        let path = repo.root.join(&rel);
        let rule = configs.rule_for(&path)?;
        if rule.is_none() && scope == Scope::Rules {
            continue;
        }
        let (source, text) = match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) if is_sealed(&t, syntax) => (Source::WorkTree, t),
                other => {
                    drop(other.map(zeroize::Zeroizing::new));
                    match repo.blob_text(id) {
                        Some(t) if is_sealed(&t, syntax) => (Source::Index, t),
                        _ => continue,
                    }
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match repo.blob_text(id) {
                Some(t) if is_sealed(&t, syntax) => (Source::Index, t),
                _ => continue,
            },
            Err(e) => {
                jobs.push(Job {
                    name: rel.clone(),
                    path,
                    rel: Some(rel.clone()),
                    syntax,
                    source: Source::WorkTree,
                    text: String::new(),
                    head: None,
                    rule,
                    problem: Some(Error::Read {
                        file: rel,
                        source: e,
                    }),
                });
                continue;
            }
        };
        let head = head_blobs
            .get(&rel)
            .and_then(|id| repo.blob_text(*id))
            .filter(|h| *h != text);
        jobs.push(Job {
            name: rel.clone(),
            path,
            rel: Some(rel),
            syntax,
            source,
            text,
            head,
            rule,
            problem: None,
        });
    }
    Ok(jobs)
}

/// The files named on the command line; each must be sealed (in the work tree, or in the
/// index when the work-tree file is the filter's plaintext).
pub fn named_jobs(
    files: &[PathBuf],
    repo: Option<&Repo>,
    configs: &mut Configs,
    head: bool,
) -> Result<Vec<Job>, Error> {
    let mut jobs = Vec::new();
    for file in files {
        let name = display_path(file);
        // A file named on the command line is read as sops reads it: any other name is
        // the binary store (a JSON document once encrypted).
        let syntax = Syntax::from_path(file).unwrap_or(Syntax::Binary);
        let text = crate::fsutil::read_text(file)?;
        let rel = repo.and_then(|r| r.relative(file));
        let (source, text) = if is_sealed(&text, syntax) {
            (Source::WorkTree, text.to_string())
        } else {
            let blob = repo
                .zip(rel.as_deref())
                .and_then(|(r, rel)| r.index_oid(rel).and_then(|id| r.blob_text(id)))
                .filter(|t| is_sealed(t, syntax));
            match blob {
                Some(t) => (Source::Index, t),
                None => {
                    // Say exactly why it is not usable.
                    let msg = match Sealed::parse(&text, syntax.format()) {
                        Err(crate::engine::EngineError::NotEncrypted) => {
                            return Err(Error::file(
                                &name,
                                exit::GENERIC,
                                "the file is not encrypted (no sops metadata found)",
                            ));
                        }
                        Err(e) => e,
                        Ok(_) => unreachable!("checked above"),
                    };
                    return Err(crate::engine::engine_error(&name, &text, msg));
                }
            }
        };
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.clone());
        let rule = configs.rule_for(&abs)?;
        let head = match (head, repo, rel.as_deref()) {
            (true, Some(r), Some(rel)) => r.head_text(rel).filter(|h| *h != text),
            _ => None,
        };
        jobs.push(Job {
            name,
            path: file.clone(),
            rel,
            syntax,
            source,
            text,
            head,
            rule,
            problem: None,
        });
    }
    Ok(jobs)
}

/// The jobs of a command: the named files, else every tracked sealed file a rule matches.
pub fn select(
    files: &[PathBuf],
    config: Option<&std::path::Path>,
    head: bool,
) -> Result<(Vec<Job>, Option<Repo>), Error> {
    let cwd = std::env::current_dir().map_err(|e| {
        Error::other(
            exit::GENERIC,
            format!("cannot read the working directory: {e}"),
        )
    })?;
    let repo = Repo::discover(&cwd);
    let mut configs = Configs::new(config)?;
    let jobs = if files.is_empty() {
        let Some(repo) = &repo else {
            return Err(Error::other(
                exit::GENERIC,
                "not in a git repository: name the files, or run this inside the repository",
            ));
        };
        tracked_jobs(repo, &mut configs, Scope::Rules, head)?
    } else {
        named_jobs(files, repo.as_ref(), &mut configs, head)?
    };
    Ok((jobs, repo))
}
