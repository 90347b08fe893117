//! `yd-mkhome NAME`: make a tenant; `yd-mkhome --remove [--purge] NAME`:
//! remove one. A tenant is a user and group `yd-NAME` with a subuid and
//! subgid range, a state dir, a home mount point, and a service dir in the
//! host's tenants scan dir, made from `$ROOT/tenant-sv`. The host scanner
//! starts a new tenant at once.

use super::accounts;
use super::join::find_pid1;
use super::setup::{bin_dir, fill, install};
use super::start::{require_root, Tenant};
use super::{home, HostRoot, TenantName};
use crate::cli::{Fatal, EXIT_USAGE};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where tenant homes are mounted: `/home/yd-NAME`.
pub const HOME_BASE: &str = "/home";

pub fn create(host: HostRoot, name: TenantName) -> Result<u8, Fatal> {
    require_root()?;
    for needed in [host.tenants(), host.template(), host.tenant_definition()] {
        if !needed.is_dir() {
            return Err(Fatal::usage(format!(
                "{}: missing; prepare the host first: yd-mkhome --root {} --setup",
                needed.display(),
                host.root.display()
            )));
        }
    }
    let user = name.user();
    let service = host.tenant_service(&name);
    let taken = |n: &str| accounts::name_taken(n).map_err(|e| Fatal::system("/etc/passwd", e));
    if taken(&user)? || service.exists() {
        return Err(Fatal::usage(format!(
            "{name}: already a tenant (or the user {user} exists)"
        )));
    }
    if taken(name.as_str())? {
        return Err(Fatal::usage(format!(
            "{name}: already a user or group name on this host"
        )));
    }
    let home = Path::new(HOME_BASE).join(&user);
    let account = accounts::create(&name, &home)
        .map_err(|e| Fatal::system(format!("{name}: making the user"), e))?;
    let tenant = Tenant {
        host,
        name,
        account,
    };
    if let Err(e) = make_dirs(&tenant) {
        let undo = accounts::remove(&tenant.name)
            .err()
            .map(|u| format!("; and removing the user: {u}"))
            .unwrap_or_default();
        let _ = std::fs::remove_dir_all(tenant.host.state(&tenant.name));
        return Err(Fatal::system(
            format!("{}: making its dirs", tenant.name),
            format!("{e}{undo}"),
        ));
    }
    println!(
        "{}: made; user {} (uid {}), home {}",
        tenant.name,
        user,
        tenant.account.uid,
        tenant.account.home.display()
    );
    Ok(0)
}

/// The state dirs, then the service dir, built aside and moved into the
/// scan dir whole, so the scanner never sees half of it.
fn make_dirs(t: &Tenant) -> io::Result<()> {
    home::prepare_state(&t.host, &t.name, &t.account)?;
    let staging = t.host.tenants().join(format!(".{}.new", t.name));
    let _ = std::fs::remove_dir_all(&staging);
    let bin = bin_dir();
    for f in std::fs::read_dir(t.host.tenant_definition())? {
        let f = f?;
        let text = std::fs::read_to_string(f.path())?;
        let mode = std::os::unix::fs::PermissionsExt::mode(&f.metadata()?.permissions()) & 0o777;
        install(
            &staging.join(f.file_name()),
            &fill(&text, &t.host, &bin, Some(t.name.as_str())),
            mode,
        )?;
    }
    std::fs::rename(&staging, t.host.tenant_service(&t.name))
}

pub fn remove(host: HostRoot, name: TenantName, purge: bool) -> Result<u8, Fatal> {
    require_root()?;
    let service = host.tenant_service(&name);
    let tenant = match Tenant::resolve(host.clone(), name.clone()) {
        Ok(t) => t,
        Err(_) if !service.exists() => return Err(Fatal::usage(format!("{name}: no such tenant"))),
        Err(e) => return Err(e),
    };
    let stray =
        accounts::processes_of(tenant.account.uid).map_err(|e| Fatal::system("/proc", e))?;
    if find_pid1(&tenant).is_some() || stray > 0 {
        return Err(Fatal::with_code(
            EXIT_USAGE,
            format!(
                "{name}: running; stop it first: yd-svc -wD -d {}",
                service.display()
            ),
        ));
    }
    let fail = |what: &str, e: io::Error| Fatal::system(format!("{name}: {what}"), e);
    // Out of the scan dir first: the scanner stops its supervisor.
    let leaving: PathBuf = host.tenants().join(format!(".{name}.removed"));
    if service.exists() {
        std::fs::rename(&service, &leaving).map_err(|e| fail("leaving the scan dir", e))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while crate::client::check_supervised(&leaving).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::remove_dir_all(&leaving).map_err(|e| fail("removing its service dir", e))?;
    }
    home::unmount(&tenant.account.home).map_err(|e| fail("unmounting the home", e))?;
    match std::fs::remove_dir(&tenant.account.home) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("removing the home mount point", e)),
    }
    accounts::remove(&name).map_err(|e| fail("removing the user", e))?;
    // Its exports go with it (only sockets: no data); a later tenant of the
    // same name starts with none.
    match std::fs::remove_dir_all(host.exports().join(name.as_str())) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("removing its exports", e)),
    }
    if purge {
        let state = host.state(&name);
        match std::fs::remove_dir_all(&state) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail("purging the state", e)),
        }
    }
    println!(
        "{name}: removed{}",
        if purge {
            ", state purged"
        } else {
            "; state kept"
        }
    );
    Ok(0)
}
