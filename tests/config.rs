//! Configs: yd-envdir side by side with daemontools' envdir and s6-envdir,
//! layering, keys, and the sh library under dash, bash and busybox sh.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHELLS: [&[&str]; 3] = [&["dash"], &["bash"], &["busybox", "sh"]];

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lib/sh/yd-config.sh")
}

/// The environment `tool... DIRS env -0` gives, from a known start.
fn env_of(tool: &[PathBuf], args: &[&Path]) -> (i32, BTreeMap<String, String>) {
    let mut cmd = Command::new(&tool[0]);
    cmd.args(&tool[1..])
        .args(args)
        .arg("/usr/bin/env")
        .arg("-0")
        .env_clear()
        .env("PATH", "/usr/bin")
        .env("EMPTY", "preset");
    let out = cmd.output().unwrap();
    let vars = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    (out.status.code().unwrap_or(-1), vars)
}

/// Every documented corner of the format, in one dir.
fn fixture(sb: &Sandbox, rel: &str) -> PathBuf {
    let files: &[(&str, &[u8])] = &[
        ("EMPTY", b""),
        ("NUL", b"a\0b  \t\nsecond\n"),
        ("BLANKS", b"x \t \n"),
        ("NEWLINE_ONLY", b"\n"),
        ("MULTI", b"one\ntwo\nthree\n"),
        ("NOEOL", b"no newline"),
        ("LEAD", b"  leading kept\n"),
        ("log.max-size", b"1000\n"),
        ("dash-key", b"v\n"),
        (".hidden", b"dot-files are not keys\n"),
    ];
    let dir = sb.path(rel);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    dir
}

#[test]
fn the_format_matches_envdir_and_s6_envdir() {
    let sb = Sandbox::new("envdirfmt");
    let dir = fixture(&sb, "fix");
    let yd = vec![bin("yd-envdir")];
    let (code, ours) = env_of(&yd, &[&dir]);
    assert_eq!(code, 0);
    assert_eq!(ours.get("NUL").map(String::as_str), Some("a\nb"));
    assert!(!ours.contains_key("EMPTY") && !ours.contains_key(".hidden"));
    assert_eq!(
        ours.get("log.max-size").map(String::as_str),
        Some("1000"),
        "keys that are not shell names pass as they are"
    );
    for peer_tool in [vec![peer("envdir")], vec![peer("s6-envdir")]] {
        let (code, theirs) = env_of(&peer_tool, &[&dir]);
        assert_eq!(code, 0);
        assert_eq!(ours, theirs, "{}", peer_tool[0].display());
    }
    // s6-envdir's options: whole file, no chomp, NUL replacement, no clamp.
    sb.file("opts/BIG", &format!("{}\n", "y".repeat(5000)), 0o644);
    for opts in [
        &["-f"][..],
        &["-n"],
        &["-fn"],
        &["-c", "|"],
        &["-L"],
        &["-f", "-L"],
    ] {
        let mut yd = vec![bin("yd-envdir")];
        let mut s6 = vec![peer("s6-envdir")];
        yd.extend(opts.iter().map(PathBuf::from));
        s6.extend(opts.iter().map(PathBuf::from));
        let ours = env_of(&yd, &[&dir, &sb.path("opts")]).1;
        let s6_opts = env_of(&s6, &[&dir]).1;
        let mut ours_fix = ours.clone();
        let mut s6_fix = s6_opts.clone();
        ours_fix.remove("BIG");
        if opts == ["-L"] {
            // s6-envdir 2.11 -L gives an empty value for a last line without
            // a newline, against its own page ("the whole first line"); we
            // follow the page. Pin both, compare the rest.
            assert_eq!(ours_fix.remove("NOEOL").as_deref(), Some("no newline"));
            assert_eq!(s6_fix.remove("NOEOL").as_deref(), Some(""));
        }
        assert_eq!(ours_fix, s6_fix, "options {opts:?}");
        let s6_big = env_of(&s6, &[&sb.path("opts")]).1;
        let len = |env: &BTreeMap<String, String>| env.get("BIG").map(String::len);
        assert_eq!(len(&ours), len(&s6_big), "clamping with {opts:?}");
    }
    // A missing DIR: an error (111) for all three, unless -I.
    let missing = sb.path("missing");
    for tool in [
        vec![bin("yd-envdir")],
        vec![peer("envdir")],
        vec![peer("s6-envdir")],
    ] {
        assert_eq!(env_of(&tool, &[&missing]).0, 111, "{}", tool[0].display());
    }
    for tool in [
        vec![bin("yd-envdir"), "-I".into()],
        vec![peer("s6-envdir"), "-I".into()],
    ] {
        assert_eq!(env_of(&tool, &[&missing]).0, 0, "{} -I", tool[0].display());
    }
}

#[test]
fn layers_apply_in_order_and_bad_keys_are_refused() {
    let sb = Sandbox::new("layers");
    sb.file("host/a", "host\n", 0o644);
    sb.file("host/b", "host\n", 0o644);
    sb.file("host/c", "host\n", 0o644);
    sb.file("tenant/b", "tenant\n", 0o644);
    sb.file("tenant/c", "tenant\n", 0o644);
    sb.file("service/c", "", 0o644);
    sb.file("service/d", "service\n", 0o644);
    let (code, env) = env_of(
        &[bin("yd-envdir")],
        &[&sb.path("host"), &sb.path("tenant"), &sb.path("service")],
    );
    assert_eq!(code, 0);
    let got: Vec<_> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| env.get(*k).cloned())
        .collect();
    assert_eq!(
        got,
        [
            Some("host".into()),
            Some("tenant".into()),
            None,
            Some("service".into())
        ]
    );

    for bad in ["with space", "a=b", &"k".repeat(129), "é"] {
        let dir = sb.path(&format!("bad-{}", bad.len()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(bad), "v\n").unwrap();
        let (code, _, err) = run(Command::new(bin("yd-envdir")).arg(&dir).arg("true"));
        assert_eq!(code, 100, "{bad}: {err}");
        assert_eq!(err.lines().count(), 1);
        assert!(err.contains("is not a valid key"), "{err}");
    }
    let (code, _, err) = run(Command::new(bin("yd-envdir"))
        .arg(sb.path("host"))
        .arg(sb.path("nonexistent-layer"))
        .arg("true"));
    assert_eq!(code, 127);
    assert!(
        err.contains("taken for prog"),
        "the message explains the rule: {err}"
    );
}

/// Run `script` with the library sourced, under `shell`, in `cwd`.
fn sh(shell: &[&str], cwd: &Path, env: &[(&str, &Path)], script: &str) -> (i32, String, String) {
    let mut cmd = Command::new(shell[0]);
    cmd.args(&shell[1..])
        .arg("-c")
        .arg(format!(". '{}'\n{script}", library().display()))
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

#[test]
fn the_sh_library_answers_as_yd_envdir_does() {
    let sb = Sandbox::new("shlib");
    let host = fixture(&sb, "host");
    sb.file("home/config/MULTI", "tenant wins\n", 0o644);
    sb.file("home/config/BLANKS", "", 0o644);
    sb.file("home/config/tenant.only", "t\n", 0o644);
    let service = sb.service("home/services/redis", "exec sleep 1");
    sb.file(
        "home/services/redis/config/NOEOL",
        "from the service \t",
        0o644,
    );
    sb.file("home/services/redis/config/nul-value", "x\0y\t\n", 0o644);
    let layers = [host.clone(), sb.path("home/config"), service.join("config")];
    let (_, expected) = env_of(
        &[bin("yd-envdir")],
        &layers.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    let ctx = [
        ("YD_HOST_CONFIG", host.as_path()),
        ("HOME", &sb.path("home")),
    ];
    let keys = [
        "EMPTY",
        "NUL",
        "BLANKS",
        "NEWLINE_ONLY",
        "MULTI",
        "NOEOL",
        "LEAD",
        "log.max-size",
        "dash-key",
        "tenant.only",
        "nul-value",
        "absent",
    ];
    for shell in SHELLS {
        for key in keys {
            let (code, out, err) = sh(shell, &service, &ctx, &format!("config_get {key}"));
            match expected.get(key) {
                Some(v) => assert_eq!(
                    (code, out),
                    (0, format!("{v}\n")),
                    "{shell:?} config_get {key}: {err}"
                ),
                None => assert_eq!((code, out.as_str()), (1, ""), "{shell:?} config_get {key}"),
            }
            let (code, _, _) = sh(shell, &service, &ctx, &format!("config_has {key}"));
            assert_eq!(
                code == 0,
                expected.contains_key(key),
                "{shell:?} config_has {key}"
            );
        }
        let (_, out, _) = sh(shell, &service, &ctx, "config_get absent fallback");
        assert_eq!(out, "fallback\n");
        // -v assigns without a subshell; the value is never evaluated.
        let (code, out, err) =
            sh(shell, &service, &ctx, "config_get -v got NUL && config_get -v dflt absent '$(echo no)' && printf '%s|%s' \"$got\" \"$dflt\"");
        assert_eq!(
            (code, out.as_str()),
            (0, "a\nb|$(echo no)"),
            "{shell:?}: {err}"
        );
        let (code, _, _) = sh(shell, &service, &ctx, "config_get -v 'x;y' NUL");
        assert_eq!(code, 2, "{shell:?}: -v takes only a variable name");
        let (_, listed, _) = sh(shell, &service, &ctx, "config_list");
        let mut want: Vec<_> = expected.keys().filter(|k| *k != "PATH").cloned().collect();
        want.sort();
        assert_eq!(
            listed.lines().collect::<Vec<_>>(),
            want,
            "{shell:?} config_list"
        );
        for bad in ["'a b'", ".dot", "'a=b'", &"k".repeat(129)] {
            let (code, _, err) = sh(shell, &service, &ctx, &format!("config_get {bad}"));
            assert_eq!(code, 2, "{shell:?} {bad}");
            assert!(err.contains("is not a valid key"));
        }
    }
}

#[test]
fn a_multi_line_value_round_trips() {
    let sb = Sandbox::new("multiline");
    let home = sb.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let value = "first line\n  second, indented\nthird\twith tab";
    for shell in SHELLS {
        let (code, _, err) = sh(
            shell,
            &home,
            &[("HOME", &home)],
            &format!("config_set text '{value}'"),
        );
        assert_eq!(code, 0, "{err}");
        let (_, out, _) = sh(shell, &home, &[("HOME", &home)], "config_get text");
        assert_eq!(out, format!("{value}\n"), "{shell:?}");
        for tool in [
            vec![bin("yd-envdir")],
            vec![peer("envdir")],
            vec![peer("s6-envdir")],
        ] {
            let (_, env) = env_of(&tool, &[&home.join("config")]);
            assert_eq!(
                env.get("text").map(String::as_str),
                Some(value),
                "{}",
                tool[0].display()
            );
        }
    }
}

#[test]
fn concurrent_sets_leave_one_whole_value() {
    let sb = Sandbox::new("concurrent");
    let home = sb.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let a = "a".repeat(3000);
    let b = "b".repeat(3000);
    let writer = |v: &str| {
        Command::new("dash")
            .arg("-c")
            .arg(format!(". '{}'; i=0; while [ $i -lt 150 ]; do config_set k {v} || exit 1; i=$((i+1)); done", library().display()))
            .env("HOME", &home)
            .spawn()
            .unwrap()
    };
    let (mut wa, mut wb) = (writer(&a), writer(&b));
    let file = home.join("config/k");
    let mut reads = 0;
    while wa.try_wait().unwrap().is_none() || wb.try_wait().unwrap().is_none() {
        if let Ok(content) = std::fs::read_to_string(&file) {
            reads += 1;
            assert!(
                content == format!("{a}\n") || content == format!("{b}\n"),
                "a torn value: {} bytes",
                content.len()
            );
        }
    }
    assert!(wa.wait().unwrap().success() && wb.wait().unwrap().success());
    assert!(
        reads > 10,
        "the reader saw the writes happen ({reads} reads)"
    );
    let leftovers: Vec<_> = std::fs::read_dir(home.join("config"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, ["k"], "no temp file left behind");
}

#[test]
fn a_crash_between_write_and_rename_keeps_the_old_value() {
    let sb = Sandbox::new("crash");
    let home = sb.path("home");
    sb.file("home/config/k", "old\n", 0o644);
    // An `mv` that kills the shell running config_set: the crash lands
    // after the temp file is written and synced, before the rename.
    sb.file("fakebin/mv", "#!/bin/sh\nkill -KILL $PPID\n", 0o755);
    let path = format!("{}:/usr/bin:/bin", sb.path("fakebin").display());
    let (code, _, _) = run(Command::new("dash")
        .arg("-c")
        .arg(format!(". '{}'; config_set k new", library().display()))
        .env("HOME", &home)
        .env("PATH", path));
    assert_eq!(code, -1, "the shell was killed");
    assert_eq!(read(&home.join("config/k")), "old\n");
    let (_, env) = env_of(&[bin("yd-envdir")], &[&home.join("config")]);
    assert_eq!(
        env.get("k").map(String::as_str),
        Some("old"),
        "the temp file is a dot-file: not a key"
    );
}

#[test]
fn a_planted_symlink_is_replaced_not_followed() {
    let sb = Sandbox::new("cfgsymlink");
    let home = sb.path("home");
    let victim = sb.file("victim", "precious\n", 0o644);
    let victim_dir = sb.path("victimdir");
    std::fs::create_dir_all(&victim_dir).unwrap();
    std::fs::create_dir_all(home.join("config")).unwrap();
    std::os::unix::fs::symlink(&victim, home.join("config/k")).unwrap();
    std::os::unix::fs::symlink(&victim_dir, home.join("config/d")).unwrap();
    for shell in SHELLS {
        for key in ["k", "d"] {
            let (code, _, err) = sh(
                shell,
                &home,
                &[("HOME", &home)],
                &format!("config_set {key} new"),
            );
            assert_eq!(code, 0, "{shell:?}: {err}");
            assert!(!home.join(format!("config/{key}")).is_symlink());
        }
    }
    assert_eq!(read(&victim), "precious\n");
    assert_eq!(std::fs::read_dir(&victim_dir).unwrap().count(), 0);
    // The Rust writer, used by yodawg's programs, does the same.
    std::os::unix::fs::symlink(&victim, home.join("config/r")).unwrap();
    let key = yodawg::config::Key::parse("r".as_ref()).unwrap();
    yodawg::config::write(&home.join("config"), &key, b"new").unwrap();
    assert_eq!(read(&victim), "precious\n");
    assert_eq!(read(&home.join("config/r")), "new\n");
}

#[test]
fn yd_log_takes_its_settings_from_the_config_layers() {
    let sb = Sandbox::new("logconfig");
    sb.file("host/log.keep", "2\n", 0o644);
    sb.file("host/log.max-size", "999999\n", 0o644);
    let log_service = sb.service("svc/log", "exec yd-log ./main");
    sb.file("svc/log/config/log.max-size", "2000\n", 0o644);
    let input: String = (0..500).map(|i| format!("line {i}\n")).collect();
    let mut child = Command::new(bin("yd-log"))
        .arg("./main")
        .current_dir(&log_service)
        .env("YD_HOST_CONFIG", sb.path("host"))
        .env("HOME", sb.path("nohome"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let files: Vec<_> = std::fs::read_dir(log_service.join("main"))
        .unwrap()
        .flatten()
        .collect();
    let rotated = files
        .iter()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".s"))
        .count();
    assert_eq!(rotated, 2, "log.keep from the host layer");
    assert!(
        files.iter().all(|e| e.metadata().unwrap().len() <= 2000),
        "log.max-size from the service layer"
    );
    sb.file("host/log.keep", "lots\n", 0o644);
    let (code, _, err) = run(Command::new(bin("yd-log"))
        .arg("./main")
        .current_dir(&log_service)
        .env("YD_HOST_CONFIG", sb.path("host")));
    assert_eq!(code, 100, "{err}");
    assert!(err.contains("log.keep: not a number"), "{err}");
}
