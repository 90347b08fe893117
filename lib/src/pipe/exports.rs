//! Cross-tenant exports: which peers may use a pipeline's export socket.
//!
//! A tenant exports its pipeline NAME by running it with `yd-pipe -x DIR`
//! (DIR is usually `exports` in the pipeline's dir) and putting there one
//! empty file per consumer: a tenant's name, or `host`. `yd-pipe` then also
//! listens at `$YD_EXPORTS/NAME` (`$ROOT/exports/TENANT/NAME` on the host,
//! `~/imports/TENANT/NAME` in every tenant), a socket anyone may open but
//! where the kernel's word on the peer (SO_PEERCRED) decides: a connection
//! from a uid not listed is closed at once. The list is read at each
//! connection, so adding or removing a file takes effect immediately.

use crate::tenant::{accounts, TenantName, USER_PREFIX};
use std::path::{Path, PathBuf};

/// The consumer name that stands for the host (root).
pub const HOST: &str = "host";
/// The environment variable naming the dir where a tenant's exports live.
pub const EXPORTS_ENV: &str = "YD_EXPORTS";

pub struct Exports {
    /// The dir of consumer files.
    consumers: PathBuf,
}

impl Exports {
    pub fn new(consumers: &Path) -> Exports {
        Exports {
            consumers: consumers.into(),
        }
    }

    /// Whether the peer with `uid` is listed now: one passwd lookup and
    /// one stat per connection, whatever the list's length. A uid that is
    /// no tenant's (nor root's) is never listed.
    pub fn admits(&self, uid: u32) -> bool {
        let consumer = if uid == 0 {
            HOST.to_string()
        } else {
            let user = accounts::lookup_uid(uid).ok().flatten().map(|a| a.user);
            let tenant = user
                .as_deref()
                .and_then(|u| u.strip_prefix(USER_PREFIX))
                .and_then(|n| TenantName::parse(n).ok());
            match tenant {
                Some(t) => t.as_str().to_string(),
                None => return false,
            }
        };
        self.consumers.join(consumer).symlink_metadata().is_ok()
    }

    /// The entries that name no one, for a warning at startup.
    pub fn unknown_consumers(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.consumers) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n != HOST && consumer_uid(n).is_none())
            .collect()
    }
}

fn consumer_uid(name: &str) -> Option<u32> {
    let tenant = TenantName::parse(name).ok()?;
    accounts::lookup(&tenant.user()).ok()?.map(|a| a.uid)
}
