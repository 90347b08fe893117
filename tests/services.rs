//! The shipped host services (examples/services, installed by
//! `yd-mkhome --setup`), in real tenants: each part supervised with its own
//! log, down until enabled, one tenant's choice not another's.

use crate::common::*;
use crate::tenant::{home_of, uid_of, Host};
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// What a tenant gets from a unix socket it connects to (as the tenant).
fn ask(host: &Host, tenant: &str, socket: &str, request: &str) -> String {
    let (_, out, _) = host.join(
        tenant,
        &format!("printf '{request}' | socat -t 10 - UNIX-CONNECT:{socket} 2>/dev/null"),
    );
    out
}

fn yd_svc(host: &Host, tenant: &str, args: &str) {
    let (code, out, err) = host.join(tenant, &format!("yd-svc {args}"));
    assert_eq!(code, 0, "yd-svc {args}: {out}{err}");
}

/// kill -9 a part's process from inside the tenant (its status holds a pid
/// of the tenant's PID namespace), and wait for its supervisor's next one.
fn kill_9(host: &Host, tenant: &str, part: &std::path::Path) {
    let old = status(part).pid;
    let (code, _, err) = host.join(tenant, &format!("kill -9 {old}"));
    assert_eq!(code, 0, "{err}");
    wait_new_pid(part, old, 10 * S);
}

fn svstat(host: &Host, tenant: &str, dir: &str) -> String {
    host.join(tenant, &format!("yd-svstat {dir}")).1
}

#[test]
fn the_plain_process_service_runs_its_parts_with_docker_off() {
    let mut host = Host::new("svchello");
    let (a, b) = (host.name('h'), host.name('i'));
    host.run_tenants(&[&a, &b]);
    let (hello_a, hello_b) = (
        home_of(&a).join("services/hello"),
        home_of(&b).join("services/hello"),
    );
    for svc in [&hello_a, &hello_b, &home_of(&a).join("services/web")] {
        wait_for("the host's services, supervised and down", 10 * S, || {
            supervised(svc) && is_down(svc)
        });
    }

    yd_svc(&host, &a, "-wU -T 10000 -U ~/services/hello");
    let uid_a = uid_of(&a).unwrap();
    let socket = "$HOME/services/hello/socket";
    wait_for("hello to answer", 10 * S, || {
        ask(&host, &a, socket, "").starts_with(&format!("hello, uid {uid_a}: "))
    });
    // Each part is supervised, with its own log kept in the service (the
    // server answering says nothing of when the ticker's supervisor starts).
    for part in ["ticker", "server"] {
        let dir = hello_a.join("parts").join(part);
        wait_for(&format!("{part} and its log up"), 10 * S, || {
            is_up(&dir) && is_up(&dir.join("log"))
        });
    }
    wait_for("the ticker's log", 5 * S, || {
        read(&hello_a.join("parts/ticker/log/main/current")).contains("ticker: a tick every 5 s")
    });

    // The tenant's config wins over the service's shipped one, for it alone.
    // (The shipped file is the host's, read-only to the tenant: config_set
    // replaces it in the tenant's layer.)
    let (code, _, err) = host.join(
        &a,
        "cd ~/services/hello && . ~/libs/yd-config.sh && config_set hello.greeting bonjour",
    );
    assert_eq!(code, 0, "{err}");
    assert!(ask(&host, &a, socket, "").starts_with("bonjour, uid"));
    assert_eq!(read(&hello_b.join("config/hello.greeting")), "hello\n");
    assert_eq!(
        read(&host.root.join("services/hello/config/hello.greeting")),
        "hello\n"
    );

    // b did not enable it: nothing of it runs there.
    assert!(is_down(&hello_b) && !hello_b.join("socket").exists());
    assert!(pids_named("yd-pipe", uid_of(&b).unwrap()).is_empty());

    // kill -9 of a part: its own supervisor starts it again.
    let server = hello_a.join("parts/server");
    kill_9(&host, &a, &server);
    wait_for("hello to answer again", 10 * S, || {
        ask(&host, &a, socket, "").starts_with("bonjour, uid")
    });

    // A part that keeps crashing says so, with its last exit.
    let (code, _, err) = host.join(
        &a,
        "cd ~/services/hello/parts/ticker && rm run && printf '#!/bin/sh\\nexit 3\\n' > run && chmod +x run && yd-svc -t .",
    );
    assert_eq!(code, 0, "{err}");
    wait_for("the crash loop to show", 10 * S, || {
        let st = svstat(&host, &a, "~/services/hello/parts/ticker");
        st.contains("restart throttled") && st.contains("last exit 3")
    });

    // Disable: every part and its process gone, the data kept.
    yd_svc(&host, &a, "-wD -T 10000 -D ~/services/hello");
    wait_for("hello's processes to end", 10 * S, || {
        pids_named("yd-pipe", uid_a).is_empty() && !supervised(&server)
    });
    assert!(!read(&hello_a.join("data/ticks")).is_empty(), "data kept");

    // The host enables it the same way, on the tenant's home path.
    svc("-wu -T 10000 -U", &hello_a);
    assert!(!hello_a.join("down").exists());
    wait_for("hello to answer, enabled from the host", 10 * S, || {
        supervised(&server) && is_up(&server)
    });
}

#[test]
fn the_web_service_answers_in_its_tenants_docker_only() {
    let mut host = Host::with_docker("svcweb");
    let (a, b) = (host.name('w'), host.name('x'));
    host.run_tenants(&[&a, &b]);
    let (web_a, web_b) = (
        home_of(&a).join("services/web"),
        home_of(&b).join("services/web"),
    );
    wait_for("web supervised, down", 10 * S, || {
        supervised(&web_a) && is_down(&web_a) && supervised(&web_b) && is_down(&web_b)
    });

    yd_svc(&host, &a, "-U ~/services/web");
    let get = "GET / HTTP/1.0\\r\\n\\r\\n";
    let socket = "$HOME/services/web/socket";
    wait_for("the web service to answer on its socket", 120 * S, || {
        let reply = ask(&host, &a, socket, get);
        reply.starts_with("HTTP/1.1 200 OK")
            && reply.contains("Hello from a tenant's own web server")
    });
    let (_, names, _) = host.join(&a, "docker ps --format '{{.Names}} {{.Image}}'");
    assert!(
        names.starts_with("yodawg-web yodawg/web:") && names.lines().count() == 1,
        "in a's own Docker: {names}"
    );
    // Reached through a pipeline too (as the README's demo does).
    let (code, _, err) = host.join(
        &a,
        "mkdir ~/pipelines/web && printf '#!/bin/sh\\nexec yd-pipe socket service:web\\n' > ~/pipelines/web/.run && chmod +x ~/pipelines/web/.run && mv ~/pipelines/web/.run ~/pipelines/web/run",
    );
    assert_eq!(code, 0, "{err}");
    wait_for("the pipeline to the web service", 10 * S, || {
        ask(&host, &a, "$HOME/pipelines/web/socket", get).starts_with("HTTP/1.1 200 OK")
    });

    // b did not enable it: no container in b's Docker, no socket.
    let (_, in_b, _) = host.join(&b, "docker ps -aq");
    assert_eq!(in_b, "", "nothing in b's Docker");
    assert!(is_down(&web_b) && !web_b.join("socket").exists());

    // kill -9 of the part (the docker client): back, with a new container.
    let part = web_a.join("parts/container");
    kill_9(&host, &a, &part);
    wait_for("the web service to answer again", 60 * S, || {
        ask(&host, &a, socket, get).starts_with("HTTP/1.1 200 OK")
    });

    // The tenant's page is its data: kept when the service is disabled.
    let (code, _, err) = host.join(
        &a,
        "cd ~/services/web/www && rm index.html && echo mine > index.html",
    );
    assert_eq!(code, 0, "{err}");
    wait_for("a's page", 10 * S, || {
        ask(&host, &a, socket, get).ends_with("mine\n")
    });
    yd_svc(&host, &a, "-wD -T 30000 -D ~/services/web");
    wait_for("the container to be gone", 30 * S, || {
        host.join(&a, "docker ps -aq").1.is_empty()
    });
    assert!(!supervised(&part), "no part left supervised");
    assert_eq!(read(&web_a.join("www/index.html")), "mine\n");
    assert_eq!(
        read(&host.root.join("services/web/www/index.html"))
            .lines()
            .next(),
        Some("<!doctype html>"),
        "the host's page untouched"
    );
}
