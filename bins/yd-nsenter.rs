//! yd-nsenter: start a tenant as PID 1 of its own namespaces and root, join
//! a running one, or release its home (see yd-nsenter(8)).

use std::ffi::OsString;
use std::process::ExitCode;
use yodawg::cli::{finish, Fatal};
use yodawg::tenant::{join, start, HostRoot, TenantName};

const USAGE: &str =
    "usage: yd-nsenter [ --root ROOT ] NAME | --join NAME -- CMD... | --release NAME";

fn run(args: &[OsString]) -> Result<u8, Fatal> {
    let (host, args) = HostRoot::from_args(args).ok_or_else(|| Fatal::usage(USAGE))?;
    let name = |s: &str| TenantName::parse(s).map_err(Fatal::usage);
    match args.as_slice() {
        [n] if !n.starts_with('-') => start::start(host, name(n)?),
        [flag, n] if flag == "--release" => start::release(host, name(n)?),
        [flag, n, dashes, cmd @ ..] if flag == "--join" && dashes == "--" && !cmd.is_empty() => {
            join::join(host, name(n)?, cmd.iter().map(OsString::from).collect())
        }
        _ => Err(Fatal::usage(USAGE)),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    finish("yd-nsenter", run(&args))
}
