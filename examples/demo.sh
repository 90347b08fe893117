#!/bin/sh
# The demo behind `make demo` (as root): a host scanner over a demo tenant
# that runs the example services and, in its own rootless Docker, a
# container; left running, its tree shown.
# `make demo-stop` takes it all down and removes the tenant.
set -eu
: "${DEMO_DIR:?}" "${BIN:?}"
here=$(cd "$(dirname "$0")" && pwd)
tenant=${DEMO_TENANT:-demo}
export YD_ROOT="$DEMO_DIR/root" PATH="$BIN:$PATH"
tenants=$YD_ROOT/tenants
home=/home/yd-$tenant
join() { yd-nsenter --join "$tenant" -- "$@"; }

stop() {
	if [ -e "$DEMO_DIR/scanner.pid" ] && kill -0 "$(cat "$DEMO_DIR/scanner.pid")" 2>/dev/null; then
		kill -TERM "$(cat "$DEMO_DIR/scanner.pid")"
		while kill -0 "$(cat "$DEMO_DIR/scanner.pid")" 2>/dev/null; do sleep 0.1; done
		echo "demo: host scanner stopped; the tenant is down"
	fi
	rm -f "$DEMO_DIR/scanner.pid"
	if [ -d "$tenants/$tenant" ] || grep -q "^yd-$tenant:" /etc/passwd; then
		yd-mkhome --remove --purge "$tenant"
	fi
}

if [ "${1:-}" = stop ]; then
	stop
	exit 0
fi

stop
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
echo "== preparing a host root: yd-mkhome --setup ($YD_ROOT)"
yd-mkhome --setup | sed 's/^/   /'
echo "== a tenant: yd-mkhome $tenant"
yd-mkhome "$tenant"
yd-svscan "$tenants" </dev/null >"$DEMO_DIR/scanner.out" 2>&1 &
echo $! >"$DEMO_DIR/scanner.pid"

# The tenant starts at once; wait (10 s at most) for its sub-scanners.
i=0
until yd-svok "$home/services" 2>/dev/null && yd-svok "$home/pipelines" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: the tenant did not start" >&2; cat "$DEMO_DIR/scanner.out" >&2; exit 1; }
	sleep 0.1
done
echo "== the example services, copied into the tenant's ~/services through --join"
tar -C "$here" -cf - greeter counter | join tar -C "$home/services" -xf -
# Services are down until the tenant enables them: yd-svc -U removes their
# down marker (so they stay enabled across restarts) and starts them.
i=0
until yd-svok "$home/services/greeter" 2>/dev/null && yd-svok "$home/services/counter" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: the services are not supervised" >&2; exit 1; }
	sleep 0.1
done
echo "== enabling them: yd-svc -U ~/services/greeter ~/services/counter"
join yd-svc -wU -T 10000 -U "$home/services/greeter" "$home/services/counter"
echo "== the tenant's own rootless Docker: an image made here from busybox-static, a container"
join yd-svc -wU -T 60000 "$home/docker"
join sh -c 'set -e; r=$(mktemp -d); mkdir -p $r/bin; cp /bin/busybox $r/bin/
	for a in sh sleep echo; do ln -s busybox $r/bin/$a; done
	tar -C $r -cf - . | docker import - demo/busybox >/dev/null; rm -rf $r
	docker run -d --name hello --restart always demo/busybox \
		sh -c "while :; do echo hello from a container; sleep 5; done" >/dev/null
	docker ps --format "   container {{.Names}} ({{.Image}}): {{.Status}}"'
sleep 2
echo "== the tree: host scanner (pid $(cat "$DEMO_DIR/scanner.pid")) > tenant $tenant > services"
yd-svstat "$tenants/$tenant" "$home/docker" "$home/services" "$home/pipelines" \
	"$home/services/greeter" "$home/services/greeter/log" "$home/services/counter"
echo "== inside the tenant: yd-nsenter --join $tenant -- ..."
join sh -c 'echo "   I am $(id -un), PID 1 is $(tr "\0" " " < /proc/1/cmdline)"; tail -n 2 ~/services/greeter/log/main/current | sed "s/^/   /"'
echo
echo "Left running. Try:  PATH=$BIN:\$PATH YD_ROOT=$YD_ROOT yd-nsenter --join $tenant -- yd-svstat ~/services/*"
echo "Stop it all with:  make demo-stop"
