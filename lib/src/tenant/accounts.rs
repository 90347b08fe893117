//! The tenant's user, group and subordinate id ranges.
//!
//! Users are made and removed with Debian's `useradd`/`userdel` and ranges
//! with `usermod`, which lock and rewrite /etc/passwd, /etc/group,
//! /etc/shadow, /etc/subuid and /etc/subgid properly. Lookups parse
//! /etc/passwd and /etc/group directly: these programs are static and must
//! not use glibc's NSS (and tenant users are local by construction).

use super::TenantName;
use std::io;
use std::path::PathBuf;
use std::process::Command;

/// The size of a tenant's subuid and subgid range.
pub const RANGE: u64 = 65536;
/// Ranges start here at the lowest (Debian's SUB_UID_MIN).
const FIRST_RANGE_START: u64 = 100_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// Find `user` in /etc/passwd.
pub fn lookup(user: &str) -> io::Result<Option<Account>> {
    find(|name, _| name == user)
}

/// Find the user whose uid is `uid` (the first, as getpwuid does).
pub fn lookup_uid(uid: u32) -> io::Result<Option<Account>> {
    let uid = uid.to_string();
    find(|_, id| id == uid)
}

/// The first /etc/passwd entry whose name and uid field `matches`.
fn find(matches: impl Fn(&str, &str) -> bool) -> io::Result<Option<Account>> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 7 && matches(f[0], f[2]) {
            let num = |s: &str| {
                s.parse::<u32>().map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("/etc/passwd: bad id for {}", f[0]),
                    )
                })
            };
            return Ok(Some(Account {
                user: f[0].into(),
                uid: num(f[2])?,
                gid: num(f[3])?,
                home: PathBuf::from(f[5]),
            }));
        }
    }
    Ok(None)
}

/// Is `name` taken as a user or a group name?
pub fn name_taken(name: &str) -> io::Result<bool> {
    for file in ["/etc/passwd", "/etc/group"] {
        let text = std::fs::read_to_string(file)?;
        if text.lines().any(|l| l.split(':').next() == Some(name)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Ranges already given out in /etc/subuid or /etc/subgid: (start, count).
fn taken_ranges() -> io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in text.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if let (Some(Ok(start)), Some(Ok(count))) =
                (f.get(1).map(|s| s.parse()), f.get(2).map(|s| s.parse()))
            {
                out.push((start, count));
            }
        }
    }
    Ok(out)
}

/// The lowest range of [`RANGE`] ids free in both files.
pub fn free_range(taken: &[(u64, u64)]) -> u64 {
    let mut start = FIRST_RANGE_START;
    loop {
        let end = start + RANGE;
        match taken
            .iter()
            .filter(|(s, c)| *s < end && start < s + c)
            .map(|(s, c)| s + c)
            .max()
        {
            None => return start,
            Some(past) => start = past.max(start + 1),
        }
    }
}

/// The tenant's (start, count) range in /etc/subuid, if any.
pub fn range_of(user: &str) -> io::Result<Option<(u64, u64)>> {
    let text = match std::fs::read_to_string("/etc/subuid") {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user))
            .then(|| Some((f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?)))
            .flatten()
    }))
}

/// How many processes run as `uid`, anywhere on the host (zombies, which
/// run nothing, are not counted).
pub fn processes_of(uid: u32) -> io::Result<usize> {
    let uid = uid.to_string();
    let mut n = 0;
    for e in std::fs::read_dir("/proc")? {
        let e = e?;
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains("Z"));
        if !zombie
            && status
                .lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(&uid))
        {
            n += 1;
        }
    }
    Ok(n)
}

fn tool(cmd: &mut Command) -> io::Result<()> {
    let out = cmd.output()?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(io::Error::other(format!(
        "{:?}: {}",
        cmd.get_program(),
        err.trim()
    )))
}

/// Make the tenant's system user and group, and give it a free range.
pub fn create(t: &TenantName, home: &std::path::Path) -> io::Result<Account> {
    let user = t.user();
    // --badname: Debian caps names at 32 for utmp, which tenants never use;
    // the name was validated, more strictly than useradd does, already.
    tool(
        Command::new("useradd")
            .args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--badname",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg("--home-dir")
            .arg(home)
            .arg(&user),
    )?;
    let start = free_range(&taken_ranges()?);
    let range = format!("{start}-{}", start + RANGE - 1);
    tool(Command::new("usermod").args(["--add-subuids", &range, "--add-subgids", &range, &user]))?;
    lookup(&user)?
        .ok_or_else(|| io::Error::other(format!("{user}: not in /etc/passwd after useradd")))
}

/// Remove the tenant's ranges, user and group.
pub fn remove(t: &TenantName) -> io::Result<()> {
    let user = t.user();
    if let Some((start, count)) = range_of(&user)? {
        let range = format!("{start}-{}", start + count - 1);
        tool(Command::new("usermod").args([
            "--del-subuids",
            &range,
            "--del-subgids",
            &range,
            &user,
        ]))?;
    }
    tool(Command::new("userdel").arg(&user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_never_overlap() {
        assert_eq!(free_range(&[]), 100_000);
        assert_eq!(free_range(&[(100_000, 65536)]), 165_536);
        assert_eq!(
            free_range(&[(165_536, 65536)]),
            100_000,
            "exactly room below"
        );
        assert_eq!(
            free_range(&[(120_000, 65536)]),
            185_536,
            "no room below: next after"
        );
        assert_eq!(
            free_range(&[(100_000, 10), (100_020, 65536), (300_000, 1)]),
            165_556
        );
        let r = free_range(&[(100_000, 65536), (231_072, 65536)]);
        assert_eq!(r, 165_536, "a gap that fits is used");
    }
}
