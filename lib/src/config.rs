//! Configs: one file per key, the envdir format, layered host → tenant →
//! service. Written down once in docs/config.md; `lib/sh/yd-config.sh` is the
//! same thing for shell scripts, tested against this module's `yd-envdir`.
//!
//! A value is the first line of its file, trailing spaces and tabs removed,
//! NUL bytes read as newlines; an empty (0-byte) file unsets the key; dot
//! files are not keys. That is daemontools' envdir and s6-envdir exactly.

use std::ffi::OsStr;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const MAX_KEY_LEN: usize = 128;
/// Read at most this much of a file unless told not to clamp (`-L`): so a
/// huge file cannot make the environment too big to exec. s6-envdir's
/// measured limit (its page says 4096 bytes read; values come out at most
/// 4095 long); daemontools' envdir has none.
pub const DEFAULT_CLAMP: usize = 4095;

/// A config key: letters, digits, `_`, `.`, `-`; no leading dot; at most
/// 128 bytes. Parsed once where a key enters; past that it is trusted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

#[derive(Debug, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:?} is not a valid key: letters, digits, _ . - only, no leading dot, at most {MAX_KEY_LEN}", self.0)
    }
}

impl Key {
    pub fn parse(name: &OsStr) -> Result<Key, KeyError> {
        let b = name.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= MAX_KEY_LEN
            && b[0] != b'.'
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if ok {
            Ok(Key(String::from_utf8(b.to_vec()).expect("ASCII")))
        } else {
            Err(KeyError(name.to_string_lossy().into_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a file becomes a value: s6-envdir's options.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// `-f`: the whole file, not its first line.
    pub whole_file: bool,
    /// Without `-n`: trim trailing blanks (first line), or the last newline (whole file).
    pub chomp: bool,
    /// Read at most this many bytes (`None`: `-L`, no clamp).
    pub clamp: Option<usize>,
    /// What a NUL byte becomes (`-c`).
    pub nul_as: u8,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            whole_file: false,
            chomp: true,
            clamp: Some(DEFAULT_CLAMP),
            nul_as: b'\n',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Set(Vec<u8>),
    /// The file is empty: the key is removed.
    Unset,
}

/// Turn a file's contents into a value, by the envdir rules.
pub fn decode(contents: &[u8], opts: ReadOptions) -> Value {
    if contents.is_empty() {
        return Value::Unset;
    }
    let mut v: Vec<u8> = if opts.whole_file {
        let mut v = contents.to_vec();
        if opts.chomp && v.last() == Some(&b'\n') {
            v.pop();
        }
        v
    } else {
        let line = contents.split(|&b| b == b'\n').next().unwrap_or_default();
        let mut end = line.len();
        if opts.chomp {
            while end > 0 && matches!(line[end - 1], b' ' | b'\t') {
                end -= 1;
            }
        }
        line[..end].to_vec()
    };
    for b in v.iter_mut() {
        if *b == 0 {
            *b = opts.nul_as;
        }
    }
    Value::Set(v)
}

/// What went wrong reading a config dir, with the path.
#[derive(Debug)]
pub enum ConfigError {
    BadKey(PathBuf, KeyError),
    Io(PathBuf, io::Error),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ConfigError::BadKey(dir, e) => write!(f, "{}: {e}", dir.display()),
            ConfigError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

/// How symlinks in a config dir are treated. yd-envdir follows them, as
/// envdir does; yodawg's own programs, which may run as root over a dir a
/// tenant writes, do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    Follow,
    Refuse,
}

fn read_file(path: &Path, clamp: Option<usize>, symlinks: Symlinks) -> io::Result<Vec<u8>> {
    let flags = if symlinks == Symlinks::Refuse {
        libc::O_NOFOLLOW
    } else {
        0
    };
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(flags | libc::O_CLOEXEC)
        .open(path)?;
    let mut buf = Vec::new();
    match clamp {
        Some(n) => f.take(n as u64).read_to_end(&mut buf)?,
        None => (&f).read_to_end(&mut buf)?,
    };
    Ok(buf)
}

/// Every key of `dir` with its value, sorted by key.
pub fn read_dir(
    dir: &Path,
    opts: ReadOptions,
    symlinks: Symlinks,
) -> Result<Vec<(Key, Value)>, ConfigError> {
    let io_err = |p: &Path, e| ConfigError::Io(p.to_path_buf(), e);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name();
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        let key = Key::parse(&name).map_err(|e| ConfigError::BadKey(dir.to_path_buf(), e))?;
        let path = entry.path();
        let contents = read_file(&path, opts.clamp, symlinks).map_err(|e| io_err(&path, e))?;
        out.push((key, decode(&contents, opts)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Config dirs from the lowest layer to the highest: a key in a higher one
/// overrides (an empty file there unsets it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layers {
    pub dirs: Vec<PathBuf>,
}

/// Where the host's configs are seen when `YD_HOST_CONFIG` does not say.
pub const DEFAULT_HOST_CONFIG: &str = "/var/lib/yodawg/config";

impl Layers {
    /// The caller's layers, as the shell library finds them: the host's
    /// (`$YD_HOST_CONFIG`), the tenant's (`$YD_TENANT_CONFIG`, else
    /// `$HOME/config`), and the service's (`$YD_SERVICE_CONFIG`, else
    /// `./config` when the cwd is a service dir, one with a `run`).
    pub fn from_context() -> Layers {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let mut dirs =
            vec![var("YD_HOST_CONFIG").unwrap_or_else(|| PathBuf::from(DEFAULT_HOST_CONFIG))];
        if let Some(tenant) =
            var("YD_TENANT_CONFIG").or_else(|| var("HOME").map(|h| h.join("config")))
        {
            dirs.push(tenant);
        }
        let cwd_service = || {
            let cwd = std::env::current_dir().ok()?;
            cwd.join(crate::names::RUN)
                .is_file()
                .then(|| cwd.join("config"))
        };
        if let Some(service) = var("YD_SERVICE_CONFIG").or_else(cwd_service) {
            dirs.push(service);
        }
        Layers { dirs }
    }

    /// The value of `key`, from the highest layer that has its file.
    /// Symlinks are not followed: a privileged reader must not be pointed
    /// at another file.
    pub fn get(&self, key: &Key) -> Result<Option<Vec<u8>>, ConfigError> {
        for dir in self.dirs.iter().rev() {
            let path = dir.join(key.as_str());
            match read_file(&path, Some(DEFAULT_CLAMP), Symlinks::Refuse) {
                Ok(contents) => {
                    return Ok(match decode(&contents, ReadOptions::default()) {
                        Value::Set(v) => Some(v),
                        Value::Unset => None,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(ConfigError::Io(path, e)),
            }
        }
        Ok(None)
    }

    /// A whole-number setting, or `default` when no layer sets it.
    pub fn get_number(&self, key: &str, default: u64) -> Result<u64, String> {
        let key = Key::parse(OsStr::new(key)).map_err(|e| e.to_string())?;
        match self.get(&key).map_err(|e| e.to_string())? {
            None => Ok(default),
            Some(v) => crate::cli::parse_number(key.as_str(), &String::from_utf8_lossy(&v)),
        }
    }
}

/// A value as written to its file: newlines become NULs (the envdir way to
/// carry them on one line), and such a value gets one trailing tab, which
/// every envdir reader trims, so that the shell library, whose `read`
/// cannot see NULs, knows to take its exact path.
pub fn encode(value: &[u8]) -> Vec<u8> {
    let multi_line = value.contains(&b'\n');
    let mut out: Vec<u8> = value
        .iter()
        .map(|&b| if b == b'\n' { 0 } else { b })
        .collect();
    if multi_line {
        out.push(b'\t');
    }
    out.push(b'\n');
    out
}

/// Set `key` in `dir`, atomically and durably: a temp file beside it
/// (created exclusively, never through a symlink), fsynced, renamed over
/// the key (a symlink planted there is replaced, not followed), then the dir
/// fsynced.
pub fn write(dir: &Path, key: &Key, value: &[u8]) -> io::Result<()> {
    let final_path = dir.join(key.as_str());
    let mut n = 0;
    let (tmp, mut f) = loop {
        let tmp = dir.join(format!(".{key}.tmp.{}.{n}", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    };
    let written = f.write_all(&encode(value)).and_then(|_| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|_| std::fs::rename(&tmp, &final_path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_line(b: &[u8]) -> Value {
        decode(b, ReadOptions::default())
    }

    #[test]
    fn keys() {
        for good in ["a", "A_b.c-9", "log.max-size", &"k".repeat(128)] {
            assert!(Key::parse(OsStr::new(good)).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".hidden",
            "a b",
            "a=b",
            "a/b",
            "é",
            "..",
            &"k".repeat(129),
        ] {
            assert!(Key::parse(OsStr::new(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn envdir_rules() {
        assert_eq!(first_line(b""), Value::Unset);
        assert_eq!(first_line(b"\n"), Value::Set(b"".to_vec()));
        assert_eq!(first_line(b"x \t \nsecond\n"), Value::Set(b"x".to_vec()));
        assert_eq!(first_line(b"a\0b  \t\n"), Value::Set(b"a\nb".to_vec()));
        assert_eq!(first_line(b"  lead"), Value::Set(b"  lead".to_vec()));
        assert_eq!(
            first_line(b"cr\r\n"),
            Value::Set(b"cr\r".to_vec()),
            "only spaces and tabs are blanks"
        );
        let whole = ReadOptions {
            whole_file: true,
            ..Default::default()
        };
        assert_eq!(
            decode(b"one \ntwo\n", whole),
            Value::Set(b"one \ntwo".to_vec())
        );
        let keep = ReadOptions {
            whole_file: true,
            chomp: false,
            ..Default::default()
        };
        assert_eq!(decode(b"one\n", keep), Value::Set(b"one\n".to_vec()));
        let blanks = ReadOptions {
            chomp: false,
            ..Default::default()
        };
        assert_eq!(decode(b"x \t\n", blanks), Value::Set(b"x \t".to_vec()));
        let nul = ReadOptions {
            nul_as: b'|',
            ..Default::default()
        };
        assert_eq!(decode(b"a\0b", nul), Value::Set(b"a|b".to_vec()));
    }

    #[test]
    fn encoding_round_trips_through_decoding() {
        for v in [
            &b"plain"[..],
            b"",
            b"two\nlines",
            b"\nleading",
            b"trailing\n",
            b"  spaced in",
        ] {
            assert_eq!(
                first_line(&encode(v)),
                Value::Set(v.to_vec()),
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
    }
}
