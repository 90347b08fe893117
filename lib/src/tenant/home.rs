//! The tenant's home: overlays mounted once, in the host namespace, at the
//! tenant user's passwd home, so the host sees what the tenant sees.
//!
//! ```text
//! ~           overlay  lower: $ROOT/template              upper: state/home
//! ~/services  overlay  lower: template/services:$ROOT/services   upper: state/services
//! ~/libs      bind, read-only, of $ROOT/lib
//! ```
//!
//! Mounted by `yd-nsenter` as the tenant starts, unmounted by
//! `yd-nsenter --release` from the tenant's `finish`. An overlay is never
//! mounted twice over one upper dir (DESIGN.md, pitfall 5): an existing
//! mount at the home is left as it is.

use super::accounts::Account;
use super::{HostRoot, StateDirs, TenantName};
use crate::sys;
use crate::sys::mount::Attrs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The template's top-level dirs: the tenant's service dirs and its own
/// places (`config/`, ...).
fn top_level_dirs(template: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(template)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.file_type()?.is_dir() {
            out.push(name);
        }
    }
    Ok(out)
}

/// `ROOT/exports` and each tenant's dir in it.
pub const EXPORTS_MODE: u32 = 0o711;

fn mkdir(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("mkdir {}: {e}", path.display())))
}

/// Make the tenant's state dirs (idempotent). The upper dirs are the
/// tenant's, so the merged home and `~/services` are the tenant's; each
/// top-level dir of the template gets a tenant-owned copy in the upper dir,
/// or it would look root-owned through the overlay (pitfall 6): the
/// tenant's supervisor could not create `supervise/` in `~/pipelines`, nor
/// the tenant a key in `~/config`. The template's files stay root's, so
/// read-only to the tenant.
pub fn prepare_state(host: &HostRoot, t: &TenantName, acct: &Account) -> io::Result<()> {
    let state = host.state(t);
    let dirs = StateDirs::of(&state);
    mkdir(&state, 0o711)?;
    for work in [&dirs.home_work, &dirs.services_work, &dirs.root_mount] {
        mkdir(work, 0o700)?;
    }
    // The work dirs above made `home/` and `services/`; their uppers are the tenant's.
    for layer in ["home", "services"] {
        sys::make_owned_dir(&state.join(layer), "upper", 0o755, acct.uid, acct.gid)?;
    }
    sys::make_owned_dir(&state, "docker", 0o700, acct.uid, acct.gid)?;
    // Its exports: sockets it alone writes, that every tenant may open
    // (each export checks who connects). Searchable, not listable: a tenant
    // learns another's name, or an export's, from its owner, not from `ls`.
    mkdir(&host.exports(), EXPORTS_MODE)?;
    sys::make_owned_dir(
        &host.exports(),
        t.as_str(),
        EXPORTS_MODE,
        acct.uid,
        acct.gid,
    )?;
    let template = host.template();
    for name in top_level_dirs(&template)? {
        let mode = std::fs::metadata(template.join(&name))?.mode() & 0o7777;
        sys::make_owned_dir(&dirs.home_upper, &name, mode, acct.uid, acct.gid)?;
    }
    // The same for every dir of the host's service definitions (and the
    // template's): the tenant's supervisors create `supervise/` and `down`
    // in them, and the tenant replaces files of them, in its own layer.
    for lower in [template.join("services"), host.services()] {
        for rel in dirs_below(&lower)? {
            sys::make_owned_dirs(&dirs.services_upper, &rel, 0o755, acct.uid, acct.gid)?;
        }
    }
    mkdir(&acct.home, 0o755)
}

/// Every dir below `root` (not following symlinks), as paths relative to it.
fn dirs_below(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let entries = match std::fs::read_dir(root.join(&rel)) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in entries {
            let e = e?;
            if e.file_type()?.is_dir() {
                let child = rel.join(e.file_name());
                out.push(child.clone());
                todo.push(child);
            }
        }
    }
    Ok(out)
}

/// The mounts of a home, in order, as data.
#[derive(Debug, PartialEq, Eq)]
pub enum HomeMount {
    Overlay {
        lower: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
        target: PathBuf,
    },
    ReadOnlyBind {
        source: PathBuf,
        target: PathBuf,
    },
}

pub fn plan(host: &HostRoot, t: &TenantName, home: &Path) -> Vec<HomeMount> {
    let dirs = StateDirs::of(&host.state(t));
    vec![
        HomeMount::Overlay {
            lower: vec![host.template()],
            upper: dirs.home_upper,
            work: dirs.home_work,
            target: home.into(),
        },
        HomeMount::Overlay {
            lower: vec![host.template().join("services"), host.services()],
            upper: dirs.services_upper,
            work: dirs.services_work,
            target: home.join("services"),
        },
        HomeMount::ReadOnlyBind {
            source: host.libs(),
            target: home.join("libs"),
        },
    ]
}

/// Overlay options; paths with `,` `:` or `\` would be misparsed: refused.
fn overlay_options(lower: &[PathBuf], upper: &Path, work: &Path) -> io::Result<String> {
    let all = lower.iter().map(PathBuf::as_path).chain([upper, work]);
    for p in all.clone() {
        if p.to_string_lossy().contains([',', ':', '\\']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: , : and \\ cannot be in an overlay path", p.display()),
            ));
        }
    }
    let lower: Vec<_> = lower
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    Ok(format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    ))
}

/// Mount the home unless it is mounted already.
pub fn mount(host: &HostRoot, t: &TenantName, acct: &Account) -> io::Result<()> {
    if sys::mount::is_mount_point(&acct.home)? {
        return Ok(());
    }
    let attrs = Attrs {
        nosuid: true,
        nodev: true,
        ..Default::default()
    };
    for step in plan(host, t, &acct.home) {
        let done = mount_step(&step, &acct.home, attrs);
        if let Err(e) = done {
            let undo = unmount(&acct.home);
            return Err(match undo {
                Ok(()) => e,
                Err(u) => io::Error::new(e.kind(), format!("{e}; and undoing: {u}")),
            });
        }
    }
    Ok(())
}

fn mount_step(step: &HomeMount, home: &Path, attrs: Attrs) -> io::Result<()> {
    let named = match step {
        HomeMount::Overlay { target, .. } | HomeMount::ReadOnlyBind { target, .. } => target,
    };
    // `~/services` and `~/libs` are inside the tenant's home, which the
    // tenant writes: never follow a symlink it may have put there.
    let (_held, target) = if named == home {
        (None, named.clone())
    } else {
        let name = named.file_name().unwrap_or_default();
        let (fd, path) = sys::mount::nofollow_target(home, name)?;
        (Some(fd), path)
    };
    match step {
        HomeMount::Overlay {
            lower, upper, work, ..
        } => sys::mount::mount_fs(
            "overlay",
            "overlay",
            &target,
            attrs,
            Some(&overlay_options(lower, upper, work)?),
        ),
        HomeMount::ReadOnlyBind { source, .. } => {
            // Bind through the checked fd, then remount by name: it is a
            // mount point now, and the remount must name the mount itself.
            sys::mount::bind(source, &target, Attrs::default(), false)?;
            sys::mount::remount(
                named,
                Attrs {
                    readonly: true,
                    ..attrs
                },
            )
        }
    }
}

/// Unmount `~/libs`, `~/services` and the home, those that are mounted.
pub fn unmount(home: &Path) -> io::Result<()> {
    for target in [home.join("libs"), home.join("services"), home.to_path_buf()] {
        if sys::mount::is_mount_point(&target)? {
            sys::mount::unmount(&target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_layers_host_services_under_the_tenants() {
        let host = HostRoot { root: "/r".into() };
        let t = TenantName::parse("acme").unwrap();
        let p = plan(&host, &t, Path::new("/home/yd-acme"));
        assert_eq!(p.len(), 3);
        match &p[1] {
            HomeMount::Overlay { lower, target, .. } => {
                assert_eq!(
                    lower,
                    &[
                        PathBuf::from("/r/template/services"),
                        PathBuf::from("/r/services")
                    ]
                );
                assert_eq!(target, Path::new("/home/yd-acme/services"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p[2],
            HomeMount::ReadOnlyBind {
                source: "/r/lib".into(),
                target: "/home/yd-acme/libs".into()
            }
        );
        assert!(
            overlay_options(&[PathBuf::from("/a,b")], Path::new("/u"), Path::new("/w")).is_err()
        );
    }
}
