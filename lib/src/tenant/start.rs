//! `yd-nsenter NAME`, exec'd by the tenant's `run` as root: mount the home,
//! enter new mount, PID and IPC namespaces, and fork the tenant's PID 1,
//! which builds the tenant's root, becomes the tenant's user, and execs
//! `yd-svscan` over the home.
//!
//! The process the host supervisor watches stays behind as a small parent:
//! it forwards SIGTERM, SIGINT and SIGHUP to PID 1 and exits with PID 1's
//! status. PID 1 dies with it (PR_SET_PDEATHSIG), so a tenant never runs
//! unsupervised; when PID 1 dies, the kernel ends its whole namespace.

use super::accounts::{self, Account};
use super::root::{self, RootSpec, TENANT_BIN, TENANT_EXPORTS, TENANT_HOST_CONFIG};
use super::{home, HostRoot, StateDirs, TenantName};
use crate::cli::{Fatal, EXIT_SYSTEM, EXIT_USAGE};
use crate::config::Layers;
use crate::status::ExitStatus;
use crate::sys::creds::{self, Limit};
use crate::sys::{self, mount};
use nix::poll::{PollFd, PollFlags};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tenant known to the host: its name, where it lives, its user.
pub struct Tenant {
    pub host: HostRoot,
    pub name: TenantName,
    pub account: Account,
}

impl Tenant {
    /// Look the tenant up; an unknown one is bad input.
    pub fn resolve(host: HostRoot, name: TenantName) -> Result<Tenant, Fatal> {
        let user = name.user();
        let account = accounts::lookup(&user)
            .map_err(|e| Fatal::system("/etc/passwd", e))?
            .ok_or_else(|| Fatal::usage(format!("{name}: no such tenant (no user {user})")))?;
        Ok(Tenant {
            host,
            name,
            account,
        })
    }

    /// The environment every process of the tenant starts with.
    pub fn environment(&self) -> Vec<(String, OsString)> {
        let a = &self.account;
        vec![
            ("HOME".into(), a.home.clone().into()),
            ("USER".into(), a.user.clone().into()),
            ("LOGNAME".into(), a.user.clone().into()),
            ("SHELL".into(), "/bin/sh".into()),
            (
                "PATH".into(),
                format!(
                    "{TENANT_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                )
                .into(),
            ),
            (
                "XDG_RUNTIME_DIR".into(),
                format!("/run/user/{}", a.uid).into(),
            ),
            ("YD_TENANT".into(), self.name.as_str().into()),
            (
                crate::pipe::exports::EXPORTS_ENV.into(),
                Path::new(TENANT_EXPORTS).join(self.name.as_str()).into(),
            ),
            ("YD_HOST_CONFIG".into(), TENANT_HOST_CONFIG.into()),
            (
                "DOCKER_HOST".into(),
                format!("unix:///run/user/{}/docker.sock", a.uid).into(),
            ),
        ]
    }

    /// The tenant's rlimits, set by the host: `$ROOT/config`, then the
    /// tenant's own host-side dir `$ROOT/tenants/NAME/config`. The tenant's
    /// layers are not read: a tenant does not set its own limits.
    pub fn limits(&self) -> Result<Vec<(Limit, u64)>, Fatal> {
        let layers = Layers {
            dirs: vec![self.host.config(), self.host.tenant_config(&self.name)],
        };
        let get = |key, default| layers.get_number(key, default).map_err(Fatal::usage);
        Ok(vec![
            (Limit::Processes, get("tenant.max-processes", 4096)?),
            (Limit::OpenFiles, get("tenant.max-open-files", 65536)?),
            (Limit::CoreSize, get("tenant.core-size", 0)?),
        ])
    }
}

pub fn require_root() -> Result<(), Fatal> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Fatal::usage("must run as root"))
    }
}

/// Start the tenant; returns its PID 1's exit code.
pub fn start(host: HostRoot, name: TenantName) -> Result<u8, Fatal> {
    require_root()?;
    sys::cloexec_inherited_fds()
        .map_err(|e| Fatal::system("marking inherited fds close-on-exec", e))?;
    let tenant = Tenant::resolve(host, name)?;
    let fail = |what: &str, e: io::Error| Fatal::system(format!("{}: {what}", tenant.name), e);
    home::prepare_state(&tenant.host, &tenant.name, &tenant.account)
        .map_err(|e| fail("preparing the state dir", e))?;
    home::mount(&tenant.host, &tenant.name, &tenant.account)
        .map_err(|e| fail("mounting the home", e))?;
    let limits = tenant.limits()?;
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .ok_or_else(|| Fatal::system("finding yodawg's programs", "no current_exe"))?;
    let spec = RootSpec {
        uid: tenant.account.uid,
        gid: tenant.account.gid,
        home: tenant.account.home.clone(),
        bin_dir,
        host_config: tenant.host.config(),
        docker_data: StateDirs::of(&tenant.host.state(&tenant.name)).docker,
        exports: tenant.host.exports(),
    };
    let steps = root::plan(&spec);
    let new_root = StateDirs::of(&tenant.host.state(&tenant.name)).root_mount;
    let signals = forwarded_signals()?;
    mount::unshare_tenant_namespaces().map_err(|e| fail("new namespaces", e))?;
    match sys::fork().map_err(|e| fail("fork", e))? {
        Some(pid1) => wait_forwarding(pid1, signals),
        None => {
            let parent = nix::unistd::getppid();
            let e = become_pid1(&tenant, &new_root, &steps, &limits, parent);
            eprintln!("yd-nsenter: fatal: {}: {e}", tenant.name);
            std::process::exit(EXIT_SYSTEM.into())
        }
    }
}

/// PID 1 of the tenant: build the root, drop to the tenant, exec yd-svscan.
/// Returns only with the reason it could not.
fn become_pid1(
    t: &Tenant,
    new_root: &std::path::Path,
    steps: &[root::Step],
    limits: &[(Limit, u64)],
    parent: nix::unistd::Pid,
) -> io::Error {
    let run = || -> io::Result<io::Error> {
        root::build(new_root, steps)?;
        enter_as_tenant(t, limits)?;
        // Armed only now: the kernel clears the parent-death signal when the
        // credentials change (prctl(2)). Then look: the parent may have died
        // before it was armed.
        creds::die_with_parent()?;
        if nix::unistd::getppid() != parent {
            return Ok(io::Error::other("the supervised parent is gone"));
        }
        // The init of a PID namespace never gets a signal it has not asked
        // for from outside it: a SIGTERM arriving between this exec and
        // yd-svscan's signalfd would be dropped. Blocked, it waits pending
        // across the exec until yd-svscan reads it.
        sys::block(&[
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ])?;
        Ok(Command::new(format!("{TENANT_BIN}/yd-svscan"))
            .arg(&t.account.home)
            .env_clear()
            .envs(t.environment())
            .exec())
    };
    run().unwrap_or_else(|e| e)
}

/// The last steps before a tenant's program runs, as root: the limits, the
/// home as cwd, the tenant's user (no capability left), a new session, and
/// a clean signal state.
pub fn enter_as_tenant(t: &Tenant, limits: &[(Limit, u64)]) -> io::Result<()> {
    for (limit, value) in limits {
        creds::set_limit(*limit, *value)?;
    }
    std::env::set_current_dir(&t.account.home)?;
    creds::become_user(t.account.uid, t.account.gid)?;
    creds::new_session()?;
    sys::clean_signals_before_exec();
    Ok(())
}

pub fn forwarded_signals() -> Result<SignalFd, Fatal> {
    sys::signal_fd(&[
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ])
    .map_err(|e| Fatal::system("signalfd", e))
}

/// Forward signals to `child` until it exits; its status as an exit code
/// (128 + the signal if a signal killed it).
pub fn wait_forwarding(child: u32, mut signals: SignalFd) -> Result<u8, Fatal> {
    loop {
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        sys::poll(&mut fds, None).map_err(|e| Fatal::system("poll", e))?;
        for sig in sys::read_signals(&mut signals).map_err(|e| Fatal::system("signalfd", e))? {
            if sig != Signal::SIGCHLD {
                sys::kill(child, sig);
            }
        }
        while let Some((pid, how)) = sys::reap_any() {
            if pid == child {
                return Ok(exit_code(how));
            }
        }
    }
}

fn exit_code(how: ExitStatus) -> u8 {
    match (how.code(), how.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => 128 + s as u8,
        _ => EXIT_USAGE,
    }
}

/// `yd-nsenter --release NAME`, from the tenant's `finish`: unmount the home.
pub fn release(host: HostRoot, name: TenantName) -> Result<u8, Fatal> {
    require_root()?;
    let tenant = Tenant::resolve(host, name)?;
    if super::join::find_pid1(&tenant).is_some() {
        return Err(Fatal::usage(format!(
            "{}: running; its home stays mounted",
            tenant.name
        )));
    }
    home::unmount(&tenant.account.home)
        .map_err(|e| Fatal::system(format!("{}: unmounting the home", tenant.name), e))?;
    Ok(0)
}
