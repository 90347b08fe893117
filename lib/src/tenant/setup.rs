//! `yd-mkhome --setup`: prepare the host, rerunnably. It checks the
//! prerequisites and names the fix of what is missing, creates the host
//! layout, and installs the template, the tenant definition, the script
//! libraries and the init files, each only where no file is yet: what an
//! admin added or changed is never overwritten.

use super::start::require_root;
use super::HostRoot;
use crate::cli::Fatal;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A file yodawg installs: where (relative), what, its mode.
pub struct Embedded {
    pub path: &'static str,
    pub contents: &'static str,
    pub mode: u32,
}

macro_rules! embed {
    ($path:literal, $file:literal, $mode:literal) => {
        Embedded {
            path: $path,
            contents: include_str!(concat!("../../../", $file)),
            mode: $mode,
        }
    };
}

/// The default home template (skel/), installed as `$ROOT/template`.
pub const SKEL: &[Embedded] = &[
    embed!("services/run", "skel/services/run", 0o755),
    embed!("pipelines/run", "skel/pipelines/run", 0o755),
    embed!("docker/run", "skel/docker/run", 0o755),
    embed!("docker/finish", "skel/docker/finish", 0o755),
    embed!(
        "docker/notification-fd",
        "skel/docker/notification-fd",
        0o644
    ),
    embed!("config/.keep", "skel/config/.keep", 0o644),
    embed!("libs/.keep", "skel/libs/.keep", 0o644),
];

/// The default host services (examples/services/, docs/services.md),
/// installed in `$ROOT/services`: offered to every tenant, down until enabled.
pub const HOST_SERVICES: &[Embedded] = &[
    embed!("hello/run", "examples/services/hello/run", 0o755),
    embed!(
        "hello/config/hello.greeting",
        "examples/services/hello/config/hello.greeting",
        0o644
    ),
    embed!(
        "hello/config/hello.interval",
        "examples/services/hello/config/hello.interval",
        0o644
    ),
    embed!(
        "hello/parts/ticker/run",
        "examples/services/hello/parts/ticker/run",
        0o755
    ),
    embed!(
        "hello/parts/ticker/log/run",
        "examples/services/hello/parts/ticker/log/run",
        0o755
    ),
    embed!(
        "hello/parts/server/run",
        "examples/services/hello/parts/server/run",
        0o755
    ),
    embed!(
        "hello/parts/server/answer",
        "examples/services/hello/parts/server/answer",
        0o755
    ),
    embed!(
        "hello/parts/server/log/run",
        "examples/services/hello/parts/server/log/run",
        0o755
    ),
    embed!("web/run", "examples/services/web/run", 0o755),
    embed!(
        "web/www/index.html",
        "examples/services/web/www/index.html",
        0o644
    ),
    embed!(
        "web/parts/container/run",
        "examples/services/web/parts/container/run",
        0o755
    ),
    embed!(
        "web/parts/container/finish",
        "examples/services/web/parts/container/finish",
        0o755
    ),
    embed!(
        "web/parts/container/log/run",
        "examples/services/web/parts/container/log/run",
        0o755
    ),
];

/// What every tenant's service dir is made from (`@NAME@` filled in by yd-mkhome).
pub const TENANT_DEFINITION: &[Embedded] = &[
    embed!("run", "host/tenant/run", 0o755),
    embed!("finish", "host/tenant/finish", 0o755),
];

/// The host script libraries, bind-mounted at `~/libs`.
pub const LIBS: &[Embedded] = &[embed!("yd-config.sh", "lib/sh/yd-config.sh", 0o644)];

/// How the host's init starts the host scanner.
pub const INIT: &[Embedded] = &[
    embed!("yodawg.service", "host/yodawg.service", 0o644),
    embed!("sv/run", "host/sv/run", 0o755),
];

/// Fill in `@ROOT@` and `@BINDIR@` (and `@NAME@` where given).
pub fn fill(text: &str, host: &HostRoot, bin_dir: &Path, name: Option<&str>) -> String {
    let t = text
        .replace("@ROOT@", &host.root.to_string_lossy())
        .replace("@BINDIR@", &bin_dir.to_string_lossy());
    match name {
        Some(n) => t.replace("@NAME@", n),
        None => t,
    }
}

/// Write `path` unless something is there already. Returns whether it wrote.
pub fn install(path: &Path, contents: &str, mode: u32) -> io::Result<bool> {
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(mut f) => {
            f.write_all(contents.as_bytes())?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| "/usr/local/bin".into())
}

/// One line of the report.
enum Check {
    Ok(String),
    Fixed(String),
    Missing { what: String, fix: String },
}

fn check_prerequisites() -> Vec<Check> {
    let mut out = Vec::new();
    let fs = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    out.push(
        if fs
            .lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"))
        {
            Check::Ok("overlayfs".into())
        } else {
            Check::Missing {
                what: "overlayfs".into(),
                fix: "modprobe overlay".into(),
            }
        },
    );
    let sysctl = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    out.push(match sysctl("/proc/sys/user/max_user_namespaces") {
        Some(n) if n > 0 => Check::Ok(format!("user namespaces (max {n})")),
        _ => Check::Missing {
            what: "user namespaces".into(),
            fix: "sysctl -w user.max_user_namespaces=15000".into(),
        },
    });
    if sysctl("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
        out.push(Check::Missing {
            what: "unprivileged user namespaces".into(),
            fix: "sysctl -w kernel.unprivileged_userns_clone=1".into(),
        });
    }
    for helper in ["/usr/bin/newuidmap", "/usr/bin/newgidmap"] {
        out.push(match std::fs::metadata(helper) {
            Ok(m) if m.uid() == 0 && m.mode() & 0o4000 != 0 => {
                Check::Ok(format!("{helper}, setuid root"))
            }
            Ok(_) => Check::Missing {
                what: format!("{helper} is not setuid root"),
                fix: format!("chmod u+s {helper}"),
            },
            Err(_) => Check::Missing {
                what: helper.into(),
                fix: "apt-get install uidmap".into(),
            },
        });
    }
    // Each tenant's rootless Docker (Debian's packages).
    for (tool, package) in [
        ("/usr/sbin/dockerd", "docker.io"),
        (
            "/usr/share/docker.io/contrib/dockerd-rootless.sh",
            "docker.io",
        ),
        ("/usr/bin/rootlesskit", "rootlesskit"),
        ("/usr/bin/slirp4netns", "slirp4netns"),
    ] {
        out.push(if Path::new(tool).exists() {
            Check::Ok(tool.into())
        } else {
            Check::Missing {
                what: tool.into(),
                fix: format!("apt-get install {package}"),
            }
        });
    }
    let tun = Path::new("/dev/net/tun");
    out.push(match std::fs::metadata(tun) {
        Err(_) => Check::Missing {
            what: tun.display().to_string(),
            fix: "modprobe tun".into(),
        },
        Ok(m) if m.mode() & 0o006 == 0o006 => Check::Ok("/dev/net/tun, usable by tenants".into()),
        // Tenants' slirp4netns must open it (pitfall 2); it holds no data.
        Ok(_) => match std::fs::set_permissions(tun, std::fs::Permissions::from_mode(0o666)) {
            Ok(()) => {
                Check::Fixed("/dev/net/tun mode 0666, so tenants' slirp4netns can open it".into())
            }
            Err(e) => Check::Missing {
                what: format!("/dev/net/tun usable by tenants ({e})"),
                fix: "chmod 0666 /dev/net/tun".into(),
            },
        },
    });
    out
}

pub fn setup(host: HostRoot) -> Result<u8, Fatal> {
    require_root()?;
    let mut report = check_prerequisites();
    let fail = |p: &Path, e: io::Error| Fatal::system(p.display(), e);
    for (dir, mode) in [
        (host.root.clone(), 0o755),
        (host.tenants(), 0o755),
        (host.template(), 0o755),
        (host.services(), 0o755),
        (host.libs(), 0o755),
        (host.config(), 0o755),
        (host.root.join("state"), 0o711),
        (host.exports(), super::home::EXPORTS_MODE),
        (host.tenant_definition(), 0o755),
    ] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(&dir)
            .map_err(|e| fail(&dir, e))?;
    }
    let bin = bin_dir();
    let groups: [(&[Embedded], PathBuf, bool); 5] = [
        (SKEL, host.template(), false),
        (HOST_SERVICES, host.services(), false),
        (TENANT_DEFINITION, host.tenant_definition(), false),
        (LIBS, host.libs(), false),
        (INIT, host.root.join("init"), true),
    ];
    let (mut written, mut kept) = (0, 0);
    for (files, dir, substitute) in groups {
        for f in files {
            let path = dir.join(f.path);
            let contents = if substitute {
                fill(f.contents, &host, &bin, None)
            } else {
                f.contents.to_string()
            };
            if install(&path, &contents, f.mode).map_err(|e| fail(&path, e))? {
                written += 1;
            } else {
                kept += 1;
            }
        }
    }
    // ~/imports: what other tenants exported, seen through the exports dir
    // every tenant has (a link, so nothing is mounted into the home).
    let imports = host.template().join(crate::names::IMPORTS);
    match std::os::unix::fs::symlink(super::root::TENANT_EXPORTS, &imports) {
        Ok(()) => written += 1,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => kept += 1,
        Err(e) => return Err(fail(&imports, e)),
    }
    report.push(Check::Ok(format!(
        "{}: {written} files installed, {kept} already there and kept",
        host.root.display()
    )));
    let mut missing = false;
    for line in report {
        match line {
            Check::Ok(what) => println!("ok: {what}"),
            Check::Fixed(what) => println!("fixed: {what}"),
            Check::Missing { what, fix } => {
                missing = true;
                println!("missing: {what} (fix: {fix})");
            }
        }
    }
    let init = host.root.join("init");
    println!("host scanner: systemd: ln -s {0}/yodawg.service /etc/systemd/system/ && systemctl enable --now yodawg", init.display());
    println!(
        "              runit or s6: link {}/sv into your scan dir",
        init.display()
    );
    Ok(if missing { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `files` embeds every file of `dir` (relative to the repository), with its mode.
    fn embeds_all_of(files: &[Embedded], dir: &str) {
        let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
        let mut on_disk = Vec::new();
        let mut stack = vec![top.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(&top).unwrap().to_owned();
                    on_disk.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<_> = files.iter().map(|f| f.path.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "{dir}");
        for f in files {
            let mode = std::fs::metadata(top.join(f.path)).unwrap().mode() & 0o777;
            assert_eq!(mode, f.mode, "{dir}/{}", f.path);
        }
    }

    #[test]
    fn the_embedded_files_are_all_of_their_dirs() {
        embeds_all_of(SKEL, "skel");
        embeds_all_of(HOST_SERVICES, "examples/services");
    }

    #[test]
    fn placeholders_are_filled() {
        let host = HostRoot {
            root: "/srv/yd".into(),
        };
        let run = fill(
            TENANT_DEFINITION[0].contents,
            &host,
            Path::new("/opt/bin"),
            Some("acme"),
        );
        assert!(
            run.contains("exec /opt/bin/yd-nsenter --root /srv/yd acme"),
            "{run}"
        );
        assert!(!run.contains('@'));
    }
}
