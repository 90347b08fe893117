# yd-config.sh: yodawg's config library for POSIX sh (dash, bash, busybox sh).
#
#   . ~/libs/yd-config.sh
#   config_get -v port redis.port 6379     # sets $port; forks nothing
#   port=$(config_get redis.port 6379)     # the same, in a subshell
#   config_set redis.maxmemory 256mb
#
# A config is a dir of files, one per key, in the envdir format (docs/config.md):
# the value is the file's first line without trailing spaces and tabs, NUL
# bytes standing for newlines; an empty file unsets the key. Three layers, the
# higher overriding the lower:
#
#   host     $YD_HOST_CONFIG      (default /var/lib/yodawg/config)
#   tenant   $YD_TENANT_CONFIG    (default $HOME/config)
#   service  $YD_SERVICE_CONFIG   (default ./config when . is a service dir)
#
# config_get and config_has fork no process: they use only the shell's
# builtins. config_set and config_unset write to the highest layer (the
# service's in a service dir, else the tenant's); config_set is atomic (temp
# file in the same dir, fsynced, renamed) and replaces a symlink planted in
# place of the key instead of writing through it.
#
# Return codes: 0 done or found, 1 not set, 2 bad usage or bad key, 3 write failed.

_yd_tab='	'
_yd_nl='
'
_yd_soh=$(printf '\001') # stands in for NUL on the exact path; computed once

# _yd_key_ok KEY: letters, digits, _ . - ; no leading dot; at most 128.
_yd_key_ok() {
	case $1 in
	'' | .* | *[!A-Za-z0-9_.-]*) ;;
	*) [ ${#1} -le 128 ] && return 0 ;;
	esac
	echo "config: \"$1\" is not a valid key: letters, digits, _ . - only, no leading dot, at most 128" >&2
	return 2
}

# _yd_layers: set _yd_host, _yd_tenant, _yd_service (empty when absent).
_yd_layers() {
	_yd_host=${YD_HOST_CONFIG:-/var/lib/yodawg/config}
	_yd_tenant=${YD_TENANT_CONFIG:-}
	[ -z "$_yd_tenant" ] && [ -n "${HOME:-}" ] && _yd_tenant=$HOME/config
	_yd_service=${YD_SERVICE_CONFIG:-}
	[ -z "$_yd_service" ] && [ -f ./run ] && _yd_service=$PWD/config
	:
}

# _yd_lookup KEY: set _yd_value and return 0 if KEY is set, else return 1.
_yd_lookup() {
	_yd_layers
	for _yd_dir in "$_yd_service" "$_yd_tenant" "$_yd_host"; do
		[ -n "$_yd_dir" ] || continue
		_yd_file=$_yd_dir/$1
		[ -f "$_yd_file" ] || continue
		[ -s "$_yd_file" ] || return 1 # an empty file unsets the key
		_yd_value=
		IFS= read -r _yd_value <"$_yd_file" || [ -n "$_yd_value" ] || :
		case $_yd_value in
		*"$_yd_tab")
			# A trailing tab: config_set's mark of a value with newlines,
			# stored as NULs, which `read` drops. Take the exact path.
			_yd_exact "$_yd_file"
			;;
		*)
			while :; do
				case $_yd_value in
				*[" $_yd_tab"]) _yd_value=${_yd_value%?} ;;
				*) break ;;
				esac
			done
			;;
		esac
		return 0
	done
	return 1
}

# _yd_exact FILE: the envdir value of FILE, NULs included (forks head and tr).
_yd_exact() {
	_yd_value=$(head -n 1 "$1" | tr '\000' '\001'; printf x)
	_yd_value=${_yd_value%x}
	_yd_value=${_yd_value%"$_yd_nl"}
	while :; do
		case $_yd_value in
		*[" $_yd_tab"]) _yd_value=${_yd_value%?} ;;
		*) break ;;
		esac
	done
	_yd_rest=$_yd_value _yd_value=
	while :; do
		case $_yd_rest in
		*"$_yd_soh"*)
			_yd_value=$_yd_value${_yd_rest%%"$_yd_soh"*}$_yd_nl
			_yd_rest=${_yd_rest#*"$_yd_soh"}
			;;
		*)
			_yd_value=$_yd_value$_yd_rest
			break
			;;
		esac
	done
}

# config_get [-v VAR] KEY [DEFAULT]: print KEY's value (or, with -v, assign
# it to VAR: no subshell, no fork); else DEFAULT; else return 1.
config_get() {
	_yd_var=
	if [ "${1:-}" = -v ]; then
		_yd_var=${2:-}
		case $_yd_var in
		'' | [0-9]* | *[!A-Za-z0-9_]*)
			echo "config: config_get -v needs a shell variable name, not \"$_yd_var\"" >&2
			return 2
			;;
		esac
		shift 2
	fi
	if [ $# -lt 1 ] || [ $# -gt 2 ]; then
		echo "config: usage: config_get [-v VAR] KEY [DEFAULT]" >&2
		return 2
	fi
	_yd_key_ok "$1" || return 2
	if _yd_lookup "$1"; then
		:
	elif [ $# -eq 2 ]; then
		_yd_value=$2
	else
		return 1
	fi
	if [ -n "$_yd_var" ]; then
		# Safe: VAR was checked to be a plain name; the value is not evaluated.
		eval "$_yd_var=\$_yd_value"
	else
		printf '%s\n' "$_yd_value"
	fi
}

# config_has KEY: return 0 if KEY is set in some layer.
config_has() {
	if [ $# -ne 1 ]; then
		echo "config: usage: config_has KEY" >&2
		return 2
	fi
	_yd_key_ok "$1" || return 2
	_yd_lookup "$1"
}

# _yd_write_dir: the layer config_set and config_unset write to.
_yd_write_dir() {
	_yd_layers
	_yd_wdir=${_yd_service:-$_yd_tenant}
	if [ -z "$_yd_wdir" ]; then
		echo "config: no layer to write to (no service dir, no \$HOME, no \$YD_TENANT_CONFIG)" >&2
		return 2
	fi
}

# config_set KEY VALUE: set KEY in the highest layer, atomically.
config_set() {
	if [ $# -ne 2 ]; then
		echo "config: usage: config_set KEY VALUE" >&2
		return 2
	fi
	_yd_key_ok "$1" || return 2
	_yd_write_dir || return 2
	if [ -d "$_yd_wdir/$1" ] && [ ! -L "$_yd_wdir/$1" ]; then
		echo "config: $_yd_wdir/$1 is a directory" >&2
		return 3
	fi
	mkdir -p "$_yd_wdir" || return 3
	_yd_tmp=$(mktemp "$_yd_wdir/.$1.XXXXXX") || return 3
	# Newlines are written as NULs, and such a value gets the trailing tab
	# that envdir readers trim and config_get looks for.
	{
		_yd_rest=$2
		while :; do
			case $_yd_rest in
			*"$_yd_nl"*)
				printf '%s\000' "${_yd_rest%%"$_yd_nl"*}"
				_yd_rest=${_yd_rest#*"$_yd_nl"}
				_yd_multi=1
				;;
			*)
				printf '%s' "$_yd_rest"
				break
				;;
			esac
		done
		if [ -n "${_yd_multi:-}" ]; then printf '\t'; fi
		printf '\n'
	} >"$_yd_tmp" && unset _yd_multi &&
		chmod 644 "$_yd_tmp" &&
		sync "$_yd_tmp" &&
		mv -f -T "$_yd_tmp" "$_yd_wdir/$1" &&
		sync "$_yd_wdir" && return 0
	unset _yd_multi
	rm -f "$_yd_tmp"
	echo "config: could not set $1 in $_yd_wdir" >&2
	return 3
}

# config_unset KEY: remove KEY from the highest layer (lower layers show again).
config_unset() {
	if [ $# -ne 1 ]; then
		echo "config: usage: config_unset KEY" >&2
		return 2
	fi
	_yd_key_ok "$1" || return 2
	_yd_write_dir || return 2
	rm -f "$_yd_wdir/$1" || return 3
}

# config_list: print every key set in some layer, one per line, sorted.
config_list() {
	_yd_layers
	for _yd_dir in "$_yd_host" "$_yd_tenant" "$_yd_service"; do
		[ -n "$_yd_dir" ] && [ -d "$_yd_dir" ] || continue
		for _yd_file in "$_yd_dir"/*; do
			[ -f "$_yd_file" ] || continue
			_yd_key=${_yd_file##*/}
			_yd_key_ok "$_yd_key" 2>/dev/null || continue
			_yd_lookup "$_yd_key" && printf '%s\n' "$_yd_key"
		done
	done | sort -u
}
