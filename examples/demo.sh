#!/bin/sh
# The demo behind `make demo` (as root): a host scanner over a demo tenant
# that enables the shipped host services (hello; web, a container in its
# own rootless Docker) and reaches web through a pipeline; left running,
# its tree shown.
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
echo "== the host's services, in every tenant and down until enabled: $(ls "$YD_ROOT/services" | tr '\n' ' ')"
i=0
until yd-svok "$home/services/web" 2>/dev/null && yd-svok "$home/services/hello" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: the services are not supervised" >&2; exit 1; }
	sleep 0.1
done
echo "== the tenant enables them: yd-svc -U ~/services/hello ~/services/web"
join yd-svc -wU -T 60000 "$home/docker"
join yd-svc -wU -T 10000 -U "$home/services/hello" "$home/services/web"
echo "== and adds a pipeline to the web service: ~/pipelines/web (examples/pipelines/web)"
tar -C "$here/pipelines" -cf - web | join tar -C "$home/pipelines" -xf -
# web's container part makes its image the first time: give it a minute.
i=0
until join sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | socat -t 5 - UNIX-CONNECT:$HOME/pipelines/web/socket 2>/dev/null' | grep -q '200 OK'; do
	i=$((i + 1)); [ $i -lt 600 ] || { echo "demo: the web service does not answer" >&2; tail "$home/services/web/parts/container/log/main/current" >&2; exit 1; }
	sleep 0.1
done
echo "== the tree: host scanner (pid $(cat "$DEMO_DIR/scanner.pid")) > tenant $tenant > services, parts, pipelines"
yd-svstat "$tenants/$tenant" "$home/docker" "$home/services" "$home/services/hello" "$home/services/hello/parts/"* \
	"$home/services/web" "$home/services/web/parts/"* "$home/pipelines" "$home/pipelines/web"
echo "== inside the tenant: yd-nsenter --join $tenant -- ..."
join sh -c 'echo "   I am $(id -un), PID 1 is $(tr "\0" " " < /proc/1/cmdline)"
	docker ps --format "container {{.Names}} ({{.Image}}): {{.Status}}" | sed "s/^/   /"
	echo "   hello says: $(socat - UNIX-CONNECT:$HOME/services/hello/socket </dev/null)"
	echo "   GET / through ~/pipelines/web/socket:"
	printf "GET / HTTP/1.0\r\n\r\n" | socat -t 5 - UNIX-CONNECT:$HOME/pipelines/web/socket | sed "s/^/      /"'
echo
echo "Left running. Try:  PATH=$BIN:\$PATH YD_ROOT=$YD_ROOT yd-nsenter --join $tenant -- yd-svstat ~/services/*"
echo "Stop it all with:  make demo-stop"
