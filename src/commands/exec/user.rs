//! `--user NAME` of `exec-env` and `exec-file`, as sops defines it: after the file is
//! decrypted, sealed itself becomes the user (its supplementary groups, group and user
//! id, in that order, so that it cannot go back), and the command gets `HOME`, `USER` and
//! `LOGNAME` of that user. Only root can do this; anyone else gets one error line and the
//! command does not start.

use std::ffi::CString;

use nix::unistd::{User, getgrouplist, setgid, setgroups, setuid};

use crate::error::{Error, exit};

/// The variables the command gets for the user (before the file's values, which win).
pub type UserEnv = Vec<(&'static str, String)>;

/// Becomes `name` for good and returns its `HOME`, `USER` and `LOGNAME`.
pub fn switch(name: &str) -> Result<UserEnv, Error> {
    let fail = |what: String| Error::other(exit::GENERIC, format!("--user {name}: {what}"));
    let user = User::from_name(name)
        .map_err(|e| fail(format!("cannot look the user up: {e}")))?
        .ok_or_else(|| fail("no such user".to_string()))?;
    let cname = CString::new(name).map_err(|_| fail("no such user".to_string()))?;
    let groups = getgrouplist(&cname, user.gid)
        .map_err(|e| fail(format!("cannot list the user's groups: {e}")))?;
    let cannot = |e: nix::Error| fail(format!("cannot become this user: {e} (only root can)"));
    setgroups(&groups).map_err(cannot)?;
    setgid(user.gid).map_err(cannot)?;
    setuid(user.uid).map_err(cannot)?;
    Ok(vec![
        ("HOME", user.dir.to_string_lossy().into_owned()),
        ("USER", user.name.clone()),
        ("LOGNAME", user.name),
    ])
}
