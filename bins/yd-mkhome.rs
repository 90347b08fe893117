//! yd-mkhome: make and remove tenants; prepare the host (see yd-mkhome(8)).

use std::ffi::OsString;
use std::process::ExitCode;
use yodawg::cli::{finish, Fatal};
use yodawg::tenant::{mkhome, setup, HostRoot, TenantName};

const USAGE: &str = "usage: yd-mkhome [ --root ROOT ] NAME | --remove [ --purge ] NAME | --setup";

fn run(args: &[OsString]) -> Result<u8, Fatal> {
    let (host, args) = HostRoot::from_args(args).ok_or_else(|| Fatal::usage(USAGE))?;
    let name = |s: &str| TenantName::parse(s).map_err(Fatal::usage);
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--setup"] => setup::setup(host),
        ["--remove", "--purge", n] => mkhome::remove(host, name(n)?, true),
        ["--remove", n] => mkhome::remove(host, name(n)?, false),
        [n] if !n.starts_with("--") => mkhome::create(host, name(n)?),
        [n] => Err(Fatal::usage(format!(
            "{}; {USAGE}",
            TenantName::parse(n).unwrap_err()
        ))),
        _ => Err(Fatal::usage(USAGE)),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    finish("yd-mkhome", run(&args))
}
