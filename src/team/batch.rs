//! One operation over many files: in parallel, each file written atomically (a work-tree
//! file by its own atomic rename; index blobs in one atomic index update at the end), with
//! a progress bar on a terminal and nothing but results in a pipe.
//!
//! A failure does not stop the other files. Each file that is done is printed as soon as it
//! is written (`rotated  secrets/app.yaml`), so even an interrupted run shows which files
//! are new; every other file is untouched, and running the command again finishes the job.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::files::{Job, Repo, Source};
use super::rekey::Change;
use crate::error::{Error, exit};
use crate::team::say;

/// What the operation did to one file.
#[derive(Debug, Default)]
pub struct Step {
    /// The new text, or `None` when the file stays as it is.
    pub text: Option<String>,
    /// What changed in its recipients or key.
    pub change: Change,
    /// Key paths to report (e.g. what a removed member could read).
    pub exposed: Vec<String>,
    /// The line printed once the file is written (`rotated  path`).
    pub line: String,
    /// Set by [`run`]: the new text was written (or staged).
    pub written: bool,
    /// A warning about the file (e.g. recipients named only in it), printed on stderr
    /// whether or not the file changes.
    pub warning: Option<String>,
}

/// The outcome of a batch: steps in job order, and failures.
#[derive(Debug, Default)]
pub struct Summary {
    /// Per job: the step, or `None` when it failed.
    pub steps: Vec<Option<Step>>,
    /// Failures: job index and error.
    pub failed: Vec<(usize, Error)>,
    /// How many files were written.
    pub written: usize,
}

impl Summary {
    /// `Ok` when nothing failed; else prints each failure (one line each) on stderr and
    /// returns an error that says what was done (and `note`, when not empty).
    pub fn finish(&self, verb: &str, again: &str, note: &str) -> Result<(), Error> {
        if self.failed.is_empty() {
            return Ok(());
        }
        for (_, e) in &self.failed {
            eprintln!("sealed: {e}");
        }
        let codes: Vec<i32> = self.failed.iter().map(|(_, e)| e.exit_code()).collect();
        let code = if codes.iter().all(|c| *c == codes[0]) {
            codes[0]
        } else {
            exit::GENERIC
        };
        Err(Error::other(
            code,
            format!(
                "{verb}: {} of {} files failed (listed above) and are unchanged; {} files are done \
                 (listed on stdout){note}; fix the cause and run `{again}` again to finish",
                self.failed.len(),
                self.steps.len(),
                self.written,
            ),
        ))
    }
}

fn bar(len: usize) -> ProgressBar {
    if len < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}") {
        pb.set_style(style);
    }
    pb
}

/// Locks a work-tree job's file and reads it again: a copy of the job with the text as it
/// is now when another process changed it since the job was made (`None` when not).
fn relock(job: &Job) -> Result<(Option<crate::fsutil::FileLock>, Option<Job>), Error> {
    let lock = crate::fsutil::lock(&job.path)?;
    let now = crate::fsutil::read_text(&job.path)?;
    if now.as_str() == job.text {
        return Ok((lock, None));
    }
    let fresh = Job {
        name: job.name.clone(),
        path: job.path.clone(),
        rel: job.rel.clone(),
        syntax: job.syntax,
        source: job.source,
        text: now.to_string(),
        head: job.head.clone(),
        rule: job.rule.clone(),
        problem: None,
    };
    Ok((lock, Some(fresh)))
}

/// Runs `work` on every job (`work` never writes; this does) and prints each done file's
/// line on stdout. Index blobs are staged together at the end through `repo`.
pub fn run<F>(jobs: &mut [Job], repo: Option<&Repo>, work: F) -> Summary
where
    F: Fn(&Job) -> Result<Step, Error> + Sync,
{
    let n = jobs.len();
    let results: Mutex<Vec<Option<Result<Step, Error>>>> =
        Mutex::new((0..n).map(|_| None).collect());
    let staged: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    let pb = bar(n);
    let problems: Vec<Option<Error>> = jobs.iter_mut().map(|j| j.problem.take()).collect();
    let problems = Mutex::new(problems);
    let jobs: &[Job] = jobs;

    let one = |i: usize| {
        let job = &jobs[i];
        let problem = problems.lock().map(|mut p| p[i].take()).unwrap_or(None);
        // A work-tree file is locked from before it is (read again and) worked on until its
        // new version is in place, so that no other sealed writer's change is lost.
        let mut lock = None;
        let res = match problem {
            Some(e) => Err(e),
            None if job.source == Source::WorkTree => match relock(job) {
                Ok((l, None)) => {
                    lock = l;
                    work(job)
                }
                Ok((l, Some(fresh))) => {
                    lock = l;
                    work(&fresh)
                }
                Err(e) => Err(e),
            },
            None => work(job),
        };
        if let Ok(Step {
            warning: Some(w), ..
        }) = &res
        {
            pb.suspend(|| eprintln!("sealed: warning: {w}"));
        }
        let res = match res {
            Ok(mut step) => match step.text.take() {
                None => Ok(step),
                Some(text) => match job.source {
                    Source::WorkTree => {
                        match crate::fsutil::write_atomic(&job.path, text.as_bytes()) {
                            Ok(()) => {
                                pb.suspend(|| say(&step.line));
                                step.written = true;
                                Ok(step)
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Source::Index => {
                        if let Ok(mut s) = staged.lock() {
                            s.push((i, text));
                        }
                        step.written = true;
                        Ok(step)
                    }
                },
            },
            Err(e) => Err(e),
        };
        drop(lock);
        if let Ok(mut r) = results.lock() {
            r[i] = Some(res);
        }
        pb.inc(1);
    };

    if n > 0 {
        // The first file alone: a passphrase prompt, if any, comes before the progress bar.
        one(0);
        let next = AtomicUsize::new(1);
        // Each file costs two fsyncs (the file, its directory) and little CPU, so run
        // more workers than cores: measured best at 8-16 on 2 cores (docs/team.md).
        let threads = std::thread::available_parallelism()
            .map(|p| p.get() * 4)
            .unwrap_or(8)
            .clamp(8, 16)
            .min(n.saturating_sub(1));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        one(i);
                    }
                });
            }
        });
    }
    pb.finish_and_clear();

    let mut results: Vec<Option<Result<Step, Error>>> =
        results.into_inner().unwrap_or_else(|p| p.into_inner());
    let staged = staged.into_inner().unwrap_or_else(|p| p.into_inner());
    if !staged.is_empty() {
        let updates: Vec<(String, String)> = staged
            .iter()
            .map(|(i, t)| (jobs[*i].rel.clone().unwrap_or_default(), t.clone()))
            .collect();
        let outcome = match repo {
            Some(r) => r.stage(&updates),
            None => Err(super::TeamError::Git("no repository to stage into".into())),
        };
        for (i, _) in &staged {
            match &outcome {
                Ok(()) => {
                    if let Some(Ok(step)) = &results[*i] {
                        say(format!("{} (staged)", step.line));
                    }
                }
                Err(e) => {
                    results[*i] = Some(Err(Error::file(
                        &jobs[*i].name,
                        exit::WRITE,
                        format!("cannot update the index: {e}"),
                    )));
                }
            }
        }
    }

    let mut summary = Summary::default();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Some(Ok(step)) => {
                if step.written {
                    summary.written += 1;
                }
                summary.steps.push(Some(step));
            }
            Some(Err(e)) => {
                summary.failed.push((i, e));
                summary.steps.push(None);
            }
            None => {
                summary.failed.push((
                    i,
                    Error::file(
                        &jobs[i].name,
                        exit::GENERIC,
                        "not processed (internal error)",
                    ),
                ));
                summary.steps.push(None);
            }
        }
    }
    summary
}
