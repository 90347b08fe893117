//! Namespaces and mounts: unshare, setns, mount, umount, pivot_root.
//! Every error names the operation and the path.

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

fn err(what: &str, path: &Path, e: nix::Error) -> io::Error {
    io::Error::new(
        io::Error::from(e).kind(),
        format!("{what} {}: {e}", path.display()),
    )
}

/// Enter new mount, PID and IPC namespaces (the PID one for children only).
pub fn unshare_tenant_namespaces() -> io::Result<()> {
    nix::sched::unshare(
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC,
    )
    .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("unshare: {e}")))
}

/// Join the namespace `/proc/PID/ns/KIND` (`mnt`, `pid`, `ipc`).
pub fn join_namespace(pid: u32, kind: &str) -> io::Result<()> {
    let path = format!("/proc/{pid}/ns/{kind}");
    let f = std::fs::File::open(&path)?;
    nix::sched::setns(f, CloneFlags::empty()).map_err(|e| err("setns", Path::new(&path), e))
}

/// Stop mount events from propagating back to the host: everything private.
pub fn make_private_recursively() -> io::Result<()> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| err("making private", Path::new("/"), e))
}

/// The attributes a mount can have, spelled as the plan spells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    pub readonly: bool,
    pub nosuid: bool,
    pub nodev: bool,
    pub noexec: bool,
}

impl Attrs {
    fn flags(self) -> MsFlags {
        let mut f = MsFlags::empty();
        f.set(MsFlags::MS_RDONLY, self.readonly);
        f.set(MsFlags::MS_NOSUID, self.nosuid);
        f.set(MsFlags::MS_NODEV, self.nodev);
        f.set(MsFlags::MS_NOEXEC, self.noexec);
        f
    }
}

pub fn mount_fs(
    fstype: &str,
    source: &str,
    target: &Path,
    attrs: Attrs,
    data: Option<&str>,
) -> io::Result<()> {
    nix::mount::mount(Some(source), target, Some(fstype), attrs.flags(), data)
        .map_err(|e| err(&format!("mounting {fstype}"), target, e))
}

/// Bind `source` on `target` (recursively: with the mounts below it), then
/// remount the bind with `attrs`: a bind ignores flags until remounted.
pub fn bind(source: &Path, target: &Path, attrs: Attrs, recursive: bool) -> io::Result<()> {
    let mut flags = MsFlags::MS_BIND;
    flags.set(MsFlags::MS_REC, recursive);
    nix::mount::mount(Some(source), target, None::<&str>, flags, None::<&str>)
        .map_err(|e| err(&format!("binding {} on", source.display()), target, e))?;
    if attrs != Attrs::default() {
        remount(target, attrs)?;
    }
    Ok(())
}

/// Give the bind mount at `target` these attributes. `target` must name
/// the mount itself: through a `/proc/self/fd` path to the dir beneath it,
/// the kernel would find no mount there (EINVAL).
pub fn remount(target: &Path, attrs: Attrs) -> io::Result<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | attrs.flags();
    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .map_err(|e| err("remounting", target, e))
}

/// Unmount `target`, never through a symlink at its end; a busy one is
/// detached instead (gone once unused).
pub fn unmount(target: &Path) -> io::Result<()> {
    let nofollow = MntFlags::UMOUNT_NOFOLLOW;
    match nix::mount::umount2(target, nofollow) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => {
            nix::mount::umount2(target, MntFlags::MNT_DETACH | nofollow)
                .map_err(|e| err("detaching", target, e))
        }
        Err(e) => Err(err("unmounting", target, e)),
    }
}

/// A mount target inside a dir a tenant can write: the dir `name` of
/// `parent`, opened O_PATH without following a symlink there. Mount onto
/// the returned `/proc/self/fd/N` path (it names that very dir) while the
/// fd lives: mount(2) itself would follow a symlink the tenant planted.
pub fn nofollow_target(parent: &Path, name: &OsStr) -> io::Result<(OwnedFd, PathBuf)> {
    use nix::fcntl::{open, openat, OFlag};
    use nix::sys::stat::Mode;
    let dir = open(parent, OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| err("opening", parent, e))?;
    // SAFETY: `open` returned a new fd that we now own.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let fd = openat(Some(dir.as_raw_fd()), name, flags, Mode::empty())
        .map_err(|e| err("opening without following a symlink", &parent.join(name), e))?;
    // SAFETY: `openat` returned a new fd that we now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let path = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    Ok((fd, path))
}

/// Make `new_root` the root, and detach the old one.
pub fn pivot_root(new_root: &Path) -> io::Result<()> {
    std::env::set_current_dir(new_root)?;
    // pivot_root(".", ".") stacks the old root on top of the new one; the
    // detach below then removes it (pivot_root(2), NOTES).
    nix::unistd::pivot_root(".", ".").map_err(|e| err("pivot_root", new_root, e))?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| err("detaching the old root", Path::new("/"), e))?;
    std::env::set_current_dir("/")
}

/// Is `path` a mount point in this mount namespace?
pub fn is_mount_point(path: &Path) -> io::Result<bool> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let want = path.to_string_lossy();
    Ok(info
        .lines()
        .any(|l| l.split(' ').nth(4).map(unescape_mountinfo).as_deref() == Some(&*want)))
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mountinfo(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}
