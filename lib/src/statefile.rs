//! Atomic replacement of small state files.
//!
//! Readers (runit's `sv`, `svstat`, `yd-svc -w…`) must never see a torn
//! record, so every state file is written whole to a temp file beside it and
//! renamed over the old one. The temp file is created with O_EXCL|O_NOFOLLOW
//! after removing any leftover, so a symlink planted at the temp name is
//! never followed.
//!
//! Not fsynced: these files describe live processes and mean nothing after a
//! crash, and an fsync per state change would cost milliseconds on restart
//! latency (runsv does not fsync them either).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Replace `dir/name` with `data`, atomically.
pub fn replace(dir: &Path, name: &str, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.new"));
    let final_path = dir.join(name);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)?;
    f.write_all(data)?;
    drop(f);
    fs::rename(&tmp, &final_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_ignores_a_planted_symlink() {
        let dir = std::env::temp_dir().join(format!("yd-statefile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("status.new")).unwrap();
        replace(&dir, "status", b"one").unwrap();
        replace(&dir, "status", b"two").unwrap();
        assert_eq!(fs::read(dir.join("status")).unwrap(), b"two");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        fs::remove_dir_all(&dir).unwrap();
    }
}
