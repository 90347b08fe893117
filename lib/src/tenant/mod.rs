//! Tenants: a user, an overlay home, and a supervisor as PID 1 in its own
//! namespaces and root.
//!
//! * [`TenantName`], [`HostRoot`]: names and the host layout, parsed once.
//! * [`accounts`]: the tenant's user, group and subordinate id ranges.
//! * [`home`]: the home overlays, mounted in the host namespace.
//! * [`root`]: the tenant's root, as a plan (data) then its execution.
//! * [`start`], [`join`]: the two ways into a tenant (`yd-nsenter`).
//! * [`mkhome`], [`setup`]: making and removing tenants; preparing the host.

pub mod accounts;
pub mod home;
pub mod join;
pub mod mkhome;
pub mod root;
pub mod setup;
pub mod start;

use std::fmt;
use std::path::{Path, PathBuf};

/// The longest tenant name.
pub const MAX_NAME_LEN: usize = 32;
/// Tenant users are this prefix + the tenant's name.
pub const USER_PREFIX: &str = "yd-";
/// Names that would confuse an operator or a path, whatever /etc/passwd says.
const RESERVED: &[&str] = &[
    "root", "admin", "host", "all", "none", "nobody", "template", "default", "system", "yodawg",
];

/// A tenant's name: a lowercase letter, then `[a-z0-9-]`, at most 32.
/// Being in `[a-z0-9-]` it can never hold `/`, `.` or start with `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(name: &str) -> Result<TenantName, String> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() > MAX_NAME_LEN {
            return Err(format!(
                "{name:?}: a tenant name has 1 to {MAX_NAME_LEN} characters"
            ));
        }
        if !b[0].is_ascii_lowercase()
            || !b
                .iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        {
            return Err(format!("{name:?}: a tenant name is a lowercase letter, then lowercase letters, digits and -"));
        }
        if RESERVED.contains(&name) {
            return Err(format!("{name:?}: a reserved name"));
        }
        Ok(TenantName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant's user and group name.
    pub fn user(&self) -> String {
        format!("{USER_PREFIX}{}", self.0)
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The default host root.
pub const DEFAULT_ROOT: &str = "/var/lib/yodawg";

/// The host layout (docs/tenants.md): every path yodawg uses on the host.
#[derive(Clone, Debug)]
pub struct HostRoot {
    pub root: PathBuf,
}

impl HostRoot {
    /// `--root` if given, else `$YD_ROOT`, else /var/lib/yodawg.
    pub fn new(flag: Option<PathBuf>) -> HostRoot {
        let root = flag
            .or_else(|| {
                std::env::var_os("YD_ROOT")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        HostRoot { root }
    }

    /// Take a leading `--root ROOT` off a command line: the host root, and
    /// the arguments after it; `None` if `--root` has no value.
    pub fn from_args(args: &[std::ffi::OsString]) -> Option<(HostRoot, Vec<String>)> {
        let mut args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut flag = None;
        if args.first().map(String::as_str) == Some("--root") {
            flag = Some(PathBuf::from(args.get(1)?));
            args.drain(..2);
        }
        Some((HostRoot::new(flag), args))
    }

    /// The host scanner's scan dir: one service dir per tenant.
    pub fn tenants(&self) -> PathBuf {
        self.root.join("tenants")
    }
    pub fn tenant_service(&self, t: &TenantName) -> PathBuf {
        self.tenants().join(t.as_str())
    }
    /// The lower layer of every home (installed from skel/).
    pub fn template(&self) -> PathBuf {
        self.root.join("template")
    }
    /// What a tenant's service dir is made from: `run` and `finish`.
    pub fn tenant_definition(&self) -> PathBuf {
        self.root.join("tenant-sv")
    }
    /// Host service definitions: the lower layer of every `~/services`.
    pub fn services(&self) -> PathBuf {
        self.root.join("services")
    }
    /// Host script libraries: bind-mounted read-only at `~/libs`.
    pub fn libs(&self) -> PathBuf {
        self.root.join("lib")
    }
    /// Host configs: the lowest config layer of every tenant.
    pub fn config(&self) -> PathBuf {
        self.root.join("config")
    }
    /// Every tenant's exports: `exports/NAME/PIPELINE` sockets, written by
    /// tenant NAME, seen by every tenant at `~/imports` (docs/pipelines.md).
    pub fn exports(&self) -> PathBuf {
        self.root.join("exports")
    }
    /// Per-tenant persistent state: overlay upper and work dirs.
    pub fn state(&self, t: &TenantName) -> PathBuf {
        self.root.join("state").join(t.as_str())
    }
    /// Host-side settings of one tenant (rlimits...), owned by root.
    pub fn tenant_config(&self, t: &TenantName) -> PathBuf {
        self.tenant_service(t).join("config")
    }
}

/// The state dir's layout for one tenant.
pub struct StateDirs {
    pub home_upper: PathBuf,
    pub home_work: PathBuf,
    pub services_upper: PathBuf,
    pub services_work: PathBuf,
    /// An empty dir the tenant's root is built on, in the tenant's namespace.
    pub root_mount: PathBuf,
    /// Docker's data-root: images, containers, volumes. Not on the overlay
    /// home, which overlay2 refuses underneath it (pitfall 4).
    pub docker: PathBuf,
}

impl StateDirs {
    pub fn of(state: &Path) -> StateDirs {
        StateDirs {
            home_upper: state.join("home/upper"),
            home_work: state.join("home/work"),
            services_upper: state.join("services/upper"),
            services_work: state.join("services/work"),
            root_mount: state.join("root"),
            docker: state.join("docker"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "acme", "a-1", &"a".repeat(32)] {
            assert!(TenantName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../x",
            "a/b",
            "-rf",
            "Upper",
            "root",
            "1abc",
            "a b",
            "a.b",
            "a_b",
            &"a".repeat(33),
            &"a".repeat(200),
        ] {
            assert!(TenantName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(TenantName::parse("acme").unwrap().user(), "yd-acme");
    }
}
