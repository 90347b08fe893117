//! Credentials and process attributes: who a process is and what it may do.

use nix::unistd::{Gid, Uid};
use std::io;

/// Become `uid`/`gid` with only `gid` as group, for good: real, effective
/// and saved ids all change, so every capability is dropped too (a non-root
/// uid after setresuid clears the permitted set). no_new_privs is *not* set:
/// rootless Docker needs the setuid newuidmap (DESIGN.md, pitfall 1).
pub fn become_user(uid: u32, gid: u32) -> io::Result<()> {
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    let fail = |what: &str, e: nix::Error| {
        io::Error::new(io::Error::from(e).kind(), format!("{what}: {e}"))
    };
    nix::unistd::setgroups(&[gid]).map_err(|e| fail("setgroups", e))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(|e| fail("setresgid", e))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(|e| fail("setresuid", e))?;
    Ok(())
}

/// A new session: no controlling terminal, so nothing in the tenant can push
/// input into the terminal of whoever started it (TIOCSTI).
pub fn new_session() -> io::Result<()> {
    nix::unistd::setsid().map(drop).map_err(io::Error::from)
}

/// Die with SIGKILL when the parent dies: a tenant's PID 1 must not outlive
/// the process its supervisor watches.
pub fn die_with_parent() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag on this process.
    if unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Adopt orphaned descendants: when a process below this one dies before
/// its children, they are reparented here instead of to init, so that
/// this process, which reaps every child, also reaps them.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) only sets a flag on this process.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Processes,
    OpenFiles,
    CoreSize,
}

/// Cap a limit (soft and hard) at `value`, or at the current hard limit if
/// that is lower: a tenant's limit never exceeds the host's own, and
/// raising a hard limit needs CAP_SYS_RESOURCE, which a host may not grant
/// even to root.
pub fn set_limit(which: Limit, value: u64) -> io::Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let res = match which {
        Limit::Processes => Resource::RLIMIT_NPROC,
        Limit::OpenFiles => Resource::RLIMIT_NOFILE,
        Limit::CoreSize => Resource::RLIMIT_CORE,
    };
    let fail = |e: nix::Error| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("setrlimit {which:?}: {e}"),
        )
    };
    let (_, hard) = getrlimit(res).map_err(fail)?;
    let value = value.min(hard);
    setrlimit(res, value, value).map_err(fail)
}
