//! The tenant's root: first a plan (data, testable without root), then its
//! execution in one straight line, inside the tenant's new namespaces.
//!
//! What the tenant gets, and why:
//! * a tmpfs `/`, read-only once built: nothing of the host but what is
//!   listed here; `$ROOT` and other tenants' homes are simply not in it;
//! * `/usr`, `/etc` and the `/bin`-style links, read-only, nosuid, nodev: the
//!   host's programs, but no setuid binary works...
//! * ...except `newuidmap` and `newgidmap`, bound again without nosuid:
//!   rootless Docker needs them (DESIGN.md, pitfalls 1 and 8);
//! * its home, read-write, at its passwd path, with `~/services` and
//!   `~/libs` (mounted in the host namespace: see [`super::home`]);
//! * `/sys` read-only (rootlesskit needs its cgroup mounts);
//! * a private `/tmp`, `/proc` of its own PID namespace, a minimal `/dev`
//!   (null, zero, full, random, urandom, tty, pts, shm, net/tun);
//! * its Docker's data at `/var/lib/docker`, from its state dir;
//! * `/run/user/UID` (its `XDG_RUNTIME_DIR`), yodawg's programs at
//!   `/run/yodawg/bin` and the host configs at `/run/yodawg/config`, both
//!   read-only;
//! * every tenant's exports at `/run/yodawg/exports`, writable (file modes
//!   keep each tenant to its own dir), not executable.

use crate::sys;
use crate::sys::mount::Attrs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where yodawg's programs and the host configs appear in a tenant.
pub const TENANT_BIN: &str = "/run/yodawg/bin";
pub const TENANT_HOST_CONFIG: &str = "/run/yodawg/config";
/// Every tenant's exports (`$ROOT/exports`); `~/imports` links here.
pub const TENANT_EXPORTS: &str = "/run/yodawg/exports";

/// What the plan is made from.
pub struct RootSpec {
    pub uid: u32,
    pub gid: u32,
    /// The home's path, the same on the host and in the tenant.
    pub home: PathBuf,
    /// The host dir holding yodawg's programs.
    pub bin_dir: PathBuf,
    pub host_config: PathBuf,
    /// The tenant's Docker data dir in its state.
    pub docker_data: PathBuf,
    /// `$ROOT/exports`.
    pub exports: PathBuf,
}

/// Where the tenant's Docker keeps its data, inside the tenant.
pub const TENANT_DOCKER_DATA: &str = "/var/lib/docker";

/// One step of building the root. Targets are relative to the new root.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Dir {
        path: PathBuf,
        mode: u32,
        owner: Option<(u32, u32)>,
    },
    Symlink {
        path: PathBuf,
        points_to: PathBuf,
    },
    Tmpfs {
        path: PathBuf,
        mode: u32,
        attrs: Attrs,
    },
    /// Bind a host dir (or, with `file`, a host file) onto `path`.
    Bind {
        source: PathBuf,
        path: PathBuf,
        attrs: Attrs,
        recursive: bool,
        file: bool,
    },
    Proc {
        path: PathBuf,
    },
    Devpts {
        path: PathBuf,
    },
}

const SYSTEM: Attrs = Attrs {
    readonly: true,
    nosuid: true,
    nodev: true,
    noexec: false,
};
const SCRATCH: Attrs = Attrs {
    readonly: false,
    nosuid: true,
    nodev: true,
    noexec: false,
};
const DEVICES: Attrs = Attrs {
    readonly: false,
    nosuid: true,
    nodev: false,
    noexec: true,
};
/// The host's top-level system entries a tenant sees (dirs, or links to them).
const SYSTEM_ENTRIES: &[&str] = &[
    "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
];
const DEVICE_NODES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
/// The setuid helpers rootless Docker needs: the only setuid programs that work.
const SETUID_KEPT: &[&str] = &["usr/bin/newuidmap", "usr/bin/newgidmap"];

fn rel(p: &Path) -> PathBuf {
    p.strip_prefix("/").unwrap_or(p).to_path_buf()
}

/// A dir of the new root with the host's dir `source` bound on it.
fn bind_dir(steps: &mut Vec<Step>, source: PathBuf, path: PathBuf, attrs: Attrs, recursive: bool) {
    steps.push(Step::Dir {
        path: path.clone(),
        mode: 0o755,
        owner: None,
    });
    steps.push(Step::Bind {
        source,
        path,
        attrs,
        recursive,
        file: false,
    });
}

/// A dir of the new root with a fresh tmpfs of `mode` on it.
fn tmpfs_dir(steps: &mut Vec<Step>, path: &str, mode: u32, attrs: Attrs) {
    steps.push(Step::Dir {
        path: path.into(),
        mode: 0o755,
        owner: None,
    });
    steps.push(Step::Tmpfs {
        path: path.into(),
        mode,
        attrs,
    });
}

/// The steps, in order, looking at the host only to see what exists.
pub fn plan(spec: &RootSpec) -> Vec<Step> {
    use Step::*;
    let mut steps = Vec::new();
    let host = Path::new("/");
    for entry in SYSTEM_ENTRIES {
        let source = host.join(entry);
        match std::fs::symlink_metadata(&source) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(to) = std::fs::read_link(&source) {
                    steps.push(Symlink {
                        path: entry.into(),
                        points_to: to,
                    });
                }
            }
            // Not recursive: a mount below /etc (a container's resolv.conf)
            // would otherwise come along writable.
            Ok(m) if m.is_dir() => bind_dir(&mut steps, source, entry.into(), SYSTEM, false),
            _ => {}
        }
    }
    for helper in SETUID_KEPT {
        if host.join(helper).is_file() {
            let attrs = Attrs {
                readonly: true,
                ..Default::default()
            };
            steps.push(Bind {
                source: host.join(helper),
                path: helper.into(),
                attrs,
                recursive: false,
                file: true,
            });
        }
    }
    // Read-only, with the cgroup mounts below it: rootlesskit binds
    // /sys/fs/cgroup into Docker's namespace. Its files are root's.
    steps.push(Dir {
        path: "sys".into(),
        mode: 0o555,
        owner: None,
    });
    steps.push(Bind {
        source: "/sys".into(),
        path: "sys".into(),
        attrs: Attrs {
            noexec: true,
            ..SYSTEM
        },
        recursive: true,
        file: false,
    });
    tmpfs_dir(&mut steps, "tmp", 0o1777, SCRATCH);
    steps.push(Dir {
        path: "proc".into(),
        mode: 0o555,
        owner: None,
    });
    steps.push(Proc {
        path: "proc".into(),
    });

    tmpfs_dir(&mut steps, "dev", 0o755, DEVICES);
    for node in DEVICE_NODES {
        let source = host.join("dev").join(node);
        if source.exists() {
            steps.push(Bind {
                source,
                path: Path::new("dev").join(node),
                attrs: DEVICES,
                recursive: false,
                file: true,
            });
        }
    }
    if host.join("dev/net/tun").exists() {
        steps.push(Dir {
            path: "dev/net".into(),
            mode: 0o755,
            owner: None,
        });
        steps.push(Bind {
            source: "/dev/net/tun".into(),
            path: "dev/net/tun".into(),
            attrs: DEVICES,
            recursive: false,
            file: true,
        });
    }
    steps.push(Dir {
        path: "dev/pts".into(),
        mode: 0o755,
        owner: None,
    });
    steps.push(Devpts {
        path: "dev/pts".into(),
    });
    steps.push(Symlink {
        path: "dev/ptmx".into(),
        points_to: "pts/ptmx".into(),
    });
    tmpfs_dir(&mut steps, "dev/shm", 0o1777, SCRATCH);
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        steps.push(Symlink {
            path: Path::new("dev").join(name),
            points_to: to.into(),
        });
    }

    tmpfs_dir(&mut steps, "run", 0o755, SCRATCH);
    steps.push(Dir {
        path: "run/user".into(),
        mode: 0o755,
        owner: None,
    });
    steps.push(Dir {
        path: Path::new("run/user").join(spec.uid.to_string()),
        mode: 0o700,
        owner: Some((spec.uid, spec.gid)),
    });
    bind_dir(
        &mut steps,
        spec.bin_dir.clone(),
        rel(Path::new(TENANT_BIN)),
        SYSTEM,
        false,
    );
    if spec.host_config.is_dir() {
        let attrs = Attrs {
            noexec: true,
            ..SYSTEM
        };
        bind_dir(
            &mut steps,
            spec.host_config.clone(),
            rel(Path::new(TENANT_HOST_CONFIG)),
            attrs,
            false,
        );
    }

    let attrs = Attrs {
        noexec: true,
        ..SCRATCH
    };
    bind_dir(
        &mut steps,
        spec.exports.clone(),
        rel(Path::new(TENANT_EXPORTS)),
        attrs,
        false,
    );

    bind_dir(
        &mut steps,
        spec.docker_data.clone(),
        rel(Path::new(TENANT_DOCKER_DATA)),
        SCRATCH,
        false,
    );

    // Recursive: ~/services and ~/libs come along, with their own flags.
    bind_dir(
        &mut steps,
        spec.home.clone(),
        rel(&spec.home),
        SCRATCH,
        true,
    );
    steps
}

/// Build the root on `new_root` (an empty dir), pivot into it, and make `/`
/// read-only. Runs as root, in the tenant's new mount namespace.
pub fn build(new_root: &Path, steps: &[Step]) -> io::Result<()> {
    // Nothing we mount from here on may propagate back to the host.
    sys::mount::make_private_recursively()?;
    // A fresh tmpfs, so the root holds only what the plan puts there.
    sys::mount::mount_fs("tmpfs", "yodawg-root", new_root, SCRATCH, Some("mode=0755"))?;
    for step in steps {
        apply(new_root, step)?;
    }
    sys::mount::pivot_root(new_root)?;
    // The root's own dirs and links are done: nobody adds to them.
    sys::mount::remount(Path::new("/"), SYSTEM)
}

fn apply(root: &Path, step: &Step) -> io::Result<()> {
    let at = |p: &Path| root.join(p);
    let ctx = |what: &str, p: &Path, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
    };
    match step {
        Step::Dir { path, mode, owner } => {
            let p = at(path);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(*mode)
                .create(&p)
                .map_err(|e| ctx("mkdir", &p, e))?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))
                .map_err(|e| ctx("chmod", &p, e))?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&p, Some(*uid), Some(*gid))
                    .map_err(|e| ctx("chown", &p, e))?;
            }
            Ok(())
        }
        Step::Symlink { path, points_to } => {
            std::os::unix::fs::symlink(points_to, at(path)).map_err(|e| ctx("symlink", path, e))
        }
        Step::Tmpfs { path, mode, attrs } => sys::mount::mount_fs(
            "tmpfs",
            "tmpfs",
            &at(path),
            *attrs,
            Some(&format!("mode={mode:o}")),
        ),
        Step::Bind {
            source,
            path,
            attrs,
            recursive,
            file,
        } => {
            let target = at(path);
            if *file && !target.exists() {
                std::fs::File::create(&target).map_err(|e| ctx("creating", &target, e))?;
            }
            sys::mount::bind(source, &target, *attrs, *recursive)
        }
        Step::Proc { path } => {
            let attrs = Attrs {
                nosuid: true,
                nodev: true,
                noexec: true,
                readonly: false,
            };
            sys::mount::mount_fs("proc", "proc", &at(path), attrs, None)
        }
        Step::Devpts { path } => {
            let attrs = Attrs {
                nosuid: true,
                noexec: true,
                ..Default::default()
            };
            sys::mount::mount_fs(
                "devpts",
                "devpts",
                &at(path),
                attrs,
                Some("newinstance,ptmxmode=0666,mode=620"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RootSpec {
        RootSpec {
            uid: 1234,
            gid: 1234,
            home: "/home/yd-acme".into(),
            bin_dir: "/opt/yd/bin".into(),
            host_config: "/nonexistent".into(),
            docker_data: "/r/state/acme/docker".into(),
            exports: "/r/exports".into(),
        }
    }

    #[test]
    fn system_dirs_are_read_only_nosuid() {
        let steps = plan(&spec());
        for s in &steps {
            if let Step::Bind {
                source,
                attrs,
                file: false,
                ..
            } = s
            {
                if source == Path::new("/usr") || source == Path::new("/etc") {
                    assert!(attrs.readonly && attrs.nosuid && attrs.nodev, "{s:?}");
                }
            }
        }
        assert!(steps
            .iter()
            .any(|s| matches!(s, Step::Bind { source, .. } if source == Path::new("/usr"))));
    }

    #[test]
    fn only_the_home_is_writable_and_nothing_of_the_host_root_else() {
        for s in plan(&spec()) {
            if let Step::Bind { source, attrs, .. } = &s {
                let allowed = [
                    "/usr",
                    "/etc",
                    "/sys",
                    "/opt/yd/bin",
                    "/home/yd-acme",
                    "/dev/",
                    "/r/state/acme/docker",
                    "/r/exports",
                ];
                assert!(
                    allowed
                        .iter()
                        .any(|a| source.starts_with(a) || source.to_string_lossy().starts_with(a)),
                    "{s:?}"
                );
                if source == Path::new("/r/exports") {
                    assert!(attrs.noexec && attrs.nosuid && attrs.nodev, "{s:?}");
                }
                if !attrs.readonly {
                    // The exports dir is writable only where file modes let
                    // a tenant write: its own subdir.
                    let writable = ["/home/yd-acme", "/r/state/acme/docker", "/r/exports"];
                    assert!(
                        writable.iter().any(|w| source == Path::new(w))
                            || source.starts_with("/dev"),
                        "writable: {s:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_runtime_dir_is_the_tenants() {
        let steps = plan(&spec());
        assert!(steps.contains(&Step::Dir {
            path: "run/user/1234".into(),
            mode: 0o700,
            owner: Some((1234, 1234))
        }));
        assert!(steps.iter().any(|s| matches!(s, Step::Proc { .. })));
    }
}
