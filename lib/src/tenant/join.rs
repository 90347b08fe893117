//! `yd-nsenter --join NAME -- CMD...`: run CMD inside a running tenant, as
//! its user, with its environment, in its namespaces and root. stdin,
//! stdout and stderr pass through, and so does CMD's exit status.

use super::start::{enter_as_tenant, forwarded_signals, require_root, wait_forwarding, Tenant};
use super::{HostRoot, TenantName};
use crate::cli::{Fatal, EXIT_NOT_SUPERVISED};
use crate::status::RunState;
use crate::sys::{self, mount};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// exec of CMD failed: not found / not runnable.
pub const EXIT_NOT_FOUND: u8 = 127;
pub const EXIT_CANNOT_RUN: u8 = 126;

/// The host pid of the tenant's PID 1: the child of the process its
/// supervisor runs, checked to be PID 1 of its namespace and the tenant's.
pub fn find_pid1(t: &Tenant) -> Option<u32> {
    let st = crate::client::read_status(&t.host.tenant_service(&t.name)).ok()?;
    if st.state != RunState::Run || st.pid == 0 {
        return None;
    }
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", st.pid)).ok()?;
    children
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .find(|&pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(name))
                    .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>())
            };
            let pid1 = field("NSpid:").is_some_and(|ns| ns.len() > 1 && ns.last() == Some(&"1"));
            let theirs =
                field("Uid:").is_some_and(|u| u.iter().all(|id| *id == t.account.uid.to_string()));
            pid1 && theirs
        })
}

pub fn join(host: HostRoot, name: TenantName, cmd: Vec<OsString>) -> Result<u8, Fatal> {
    require_root()?;
    sys::cloexec_inherited_fds()
        .map_err(|e| Fatal::system("marking inherited fds close-on-exec", e))?;
    let tenant = Tenant::resolve(host, name)?;
    let limits = tenant.limits()?;
    let pid1 = find_pid1(&tenant).ok_or_else(|| {
        Fatal::with_code(EXIT_NOT_SUPERVISED, format!("{}: not running", tenant.name))
    })?;
    let signals = forwarded_signals()?;
    // The mount namespace last: its /proc is the tenant's, not ours.
    for kind in ["ipc", "pid", "mnt"] {
        mount::join_namespace(pid1, kind)
            .map_err(|e| Fatal::system(format!("{}: joining", tenant.name), e))?;
    }
    match sys::fork().map_err(|e| Fatal::system("fork", e))? {
        Some(child) => wait_forwarding(child, signals),
        None => {
            let (code, e) = match enter_as_tenant(&tenant, &limits) {
                Err(e) => (crate::cli::EXIT_SYSTEM, e),
                Ok(()) => {
                    let e = Command::new(&cmd[0])
                        .args(&cmd[1..])
                        .env_clear()
                        .envs(tenant.environment())
                        .exec();
                    (
                        if e.kind() == std::io::ErrorKind::NotFound {
                            EXIT_NOT_FOUND
                        } else {
                            EXIT_CANNOT_RUN
                        },
                        e,
                    )
                }
            };
            eprintln!(
                "yd-nsenter: fatal: {}: {}: {e}",
                tenant.name,
                cmd[0].to_string_lossy()
            );
            std::process::exit(code.into())
        }
    }
}
