//! yd-log [-s MAXBYTES] [-n KEEP] DIR: log stdin's lines into DIR (see yd-log(8)).

use std::ffi::OsString;
use std::process::ExitCode;
use yodawg::cli::{finish, parse_number, Fatal};
use yodawg::config::Layers;
use yodawg::logger::Options;

const USAGE: &str = "usage: yd-log [ -s MAXBYTES ] [ -n KEEP ] DIR";

/// Config keys for what the flags do not say (docs/config.md).
const KEY_MAX_SIZE: &str = "log.max-size";
const KEY_KEEP: &str = "log.keep";

fn parse(args: &[OsString]) -> Result<Options, Fatal> {
    // Defaults come from the config layers (host, tenant, this service).
    let layers = Layers::from_context();
    let max_size = layers
        .get_number(KEY_MAX_SIZE, Options::DEFAULT_MAX_SIZE)
        .map_err(Fatal::usage)?;
    let keep = layers
        .get_number(KEY_KEEP, Options::DEFAULT_KEEP as u64)
        .map_err(Fatal::usage)? as usize;
    let mut opts = Options {
        dir: Default::default(),
        max_size,
        keep,
    };
    let mut rest = args;
    while let [flag, value, tail @ ..] = rest {
        let number = || {
            parse_number(&flag.to_string_lossy(), &value.to_string_lossy()).map_err(Fatal::usage)
        };
        match flag.to_str() {
            Some("-s") => opts.max_size = number()?,
            Some("-n") => opts.keep = number()? as usize,
            _ => break,
        }
        rest = tail;
    }
    match rest {
        [dir] if !dir.to_string_lossy().starts_with('-') => {
            opts.dir = dir.into();
            Ok(opts)
        }
        _ => Err(Fatal::usage(USAGE)),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    finish("yd-log", parse(&args).and_then(yodawg::logger::run))
}
