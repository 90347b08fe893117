//! What `yd-pipe` connects each connection to, parsed once at the edge.
//!
//! | written                | meaning                                        |
//! |------------------------|------------------------------------------------|
//! | `unix:PATH`            | the unix socket at PATH                        |
//! | `tcp:HOST:PORT`        | a TCP address; HOST is an IP (`[::1]` for v6) or `localhost` |
//! | `pipeline:NAME`        | `$HOME/pipelines/NAME/socket`                  |
//! | `service:NAME`         | `$HOME/services/NAME/socket`                   |
//! | `import:TENANT/NAME`   | `$HOME/imports/TENANT/NAME` (or `$YD_IMPORTS/…`), what TENANT exported to us |
//! | `exec PROG ARG...`     | run PROG per connection, the connection on its stdin and stdout |

use crate::names::{IMPORTS, PIPELINES, SERVICES, SOCKET};
use crate::tenant::TenantName;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The environment variable that names the dir of imports, for the host
/// (`YD_IMPORTS=/var/lib/yodawg/exports`); a tenant's is `$HOME/imports`.
pub const IMPORTS_ENV: &str = "YD_IMPORTS";

/// Where the by-name targets are.
#[derive(Debug, Default)]
pub struct Places {
    pub home: Option<PathBuf>,
    /// `$YD_IMPORTS`, else `$HOME/imports`.
    pub imports: Option<PathBuf>,
}

impl Places {
    pub fn from_env() -> Places {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let imports = std::env::var_os(IMPORTS_ENV)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(IMPORTS)));
        Places { home, imports }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    /// A socket in a dir someone else controls: connect without following
    /// a symlink there.
    Imported {
        dir: PathBuf,
        name: String,
    },
    Tcp(SocketAddr),
    Exec(Vec<OsString>),
}

/// A pipeline's or service's name: one path component, never `.`/`..`.
pub fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} name {name:?}: letters, digits and ._-@+, not starting with a dot"
        ))
    }
}

impl Target {
    /// Parse the words after the socket path. `places` resolves the by-name
    /// endpoints; they are an error without it.
    pub fn parse(words: &[OsString], places: &Places) -> Result<Target, String> {
        let (first, rest) = words.split_first().ok_or("no target")?;
        let first = first.to_str().ok_or("a target is text")?;
        if first == "exec" {
            if rest.is_empty() {
                return Err("exec: no program".into());
            }
            return Ok(Target::Exec(rest.to_vec()));
        }
        if !rest.is_empty() {
            return Err(format!("{first}: one target only (exec takes a command)"));
        }
        let (kind, what) = first
            .split_once(':')
            .ok_or_else(|| format!("{first:?}: a target is KIND:WHAT or exec PROG"))?;
        let home = || {
            places
                .home
                .as_deref()
                .ok_or_else(|| format!("{kind}: needs HOME"))
        };
        match kind {
            "unix" if !what.is_empty() => Ok(Target::Unix(what.into())),
            "tcp" => parse_tcp(what).map(Target::Tcp),
            "pipeline" | "service" => {
                check_name(kind, what)?;
                let tree = if kind == "pipeline" {
                    PIPELINES
                } else {
                    SERVICES
                };
                Ok(Target::Unix(home()?.join(tree).join(what).join(SOCKET)))
            }
            "import" => {
                let (tenant, name) = what
                    .split_once('/')
                    .ok_or_else(|| format!("import:{what}: import:TENANT/NAME"))?;
                TenantName::parse(tenant)?;
                check_name("pipeline", name)?;
                Ok(Target::Imported {
                    dir: places
                        .imports
                        .as_deref()
                        .ok_or_else(|| format!("{kind}: needs HOME or {IMPORTS_ENV}"))?
                        .join(tenant),
                    name: name.into(),
                })
            }
            _ => Err(format!(
                "{first:?}: unknown target (unix:, tcp:, pipeline:, service:, import:, exec)"
            )),
        }
    }
}

/// `HOST:PORT`, HOST an IP literal (`[v6]`) or `localhost`: names would need
/// a resolver, and a static program has none it can trust.
fn parse_tcp(what: &str) -> Result<SocketAddr, String> {
    let bad = || format!("tcp:{what}: tcp:IP:PORT ([IPv6]:PORT, or localhost:PORT)");
    let (host, port) = what.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    let ip: IpAddr = match host {
        "localhost" => Ipv4Addr::LOCALHOST.into(),
        h if h.starts_with('[') && h.ends_with(']') => {
            h[1..h.len() - 1].parse().map_err(|_| bad())?
        }
        h => h.parse::<Ipv4Addr>().map_err(|_| bad())?.into(),
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Target, String> {
        let w: Vec<OsString> = words.iter().map(OsString::from).collect();
        let places = Places {
            home: Some("/home/yd-a".into()),
            imports: Some("/home/yd-a/imports".into()),
        };
        Target::parse(&w, &places)
    }

    #[test]
    fn endpoints() {
        assert_eq!(parse(&["unix:/x/s"]), Ok(Target::Unix("/x/s".into())));
        assert_eq!(
            parse(&["tcp:127.0.0.1:80"]),
            Ok(Target::Tcp("127.0.0.1:80".parse().unwrap()))
        );
        assert_eq!(
            parse(&["tcp:[::1]:8080"]),
            Ok(Target::Tcp("[::1]:8080".parse().unwrap()))
        );
        assert_eq!(
            parse(&["tcp:localhost:9"]),
            Ok(Target::Tcp("127.0.0.1:9".parse().unwrap()))
        );
        assert_eq!(
            parse(&["pipeline:web"]),
            Ok(Target::Unix("/home/yd-a/pipelines/web/socket".into()))
        );
        assert_eq!(
            parse(&["service:redis"]),
            Ok(Target::Unix("/home/yd-a/services/redis/socket".into()))
        );
        assert_eq!(
            parse(&["import:bob/web"]),
            Ok(Target::Imported {
                dir: "/home/yd-a/imports/bob".into(),
                name: "web".into()
            })
        );
        assert_eq!(
            parse(&["exec", "cat", "-u"]),
            Ok(Target::Exec(vec!["cat".into(), "-u".into()]))
        );
    }

    #[test]
    fn malformed_endpoints_are_refused() {
        for bad in [
            &["unix:"][..],
            &["tcp:example.org:80"],
            &["tcp:1.2.3.4"],
            &["tcp:1.2.3.4:0"],
            &["tcp:1.2.3.4:70000"],
            &["tcp:::1:80"],
            &["pipeline:../x"],
            &["pipeline:a/b"],
            &["service:.."],
            &["service:"],
            &["import:bob"],
            &["import:../web"],
            &["import:bob/../x"],
            &["import:Bob/web"],
            &["ftp:x"],
            &["web"],
            &["exec"],
            &["unix:/a", "extra"],
            &[],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let w = vec![OsString::from("pipeline:web")];
        assert!(Target::parse(&w, &Places::default()).is_err(), "no HOME");
    }
}
