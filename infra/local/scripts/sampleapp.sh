#!/usr/bin/env bash
# Starts or stops one slot of the sample app for infra/local. Run by the module's
# local-exec provisioners as `sampleapp.sh start|stop`, with its inputs in APP_*
# environment variables (see main.tf). Needs only bash: the health probe speaks HTTP
# over bash's /dev/tcp, since curl is not on every machine.
set -uo pipefail
# A caller that replaces the whole environment (terraform-exec's SetEnv) may leave PATH
# empty; the standard directories keep sed, tr, setsid and friends reachable.
export PATH="${PATH:+$PATH:}/usr/local/bin:/usr/bin:/bin"

readonly STOP_TIMEOUT=10 # seconds between TERM and KILL

log() { printf 'infra/local: %s\n' "$*"; }
die() {
	printf 'infra/local: error: %s\n' "$*" >&2
	exit 1
}

# alive PID: the process exists and is not a zombie (an exited child nobody reaped
# yet still answers kill -0).
alive() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	[[ -r /proc/$1/stat ]] || return 0
	state=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z && $state != X ]]
}

# ours PID: the process is the sample app for this port, not an unrelated process that
# inherited a recycled pid (after a reboot, say). Without /proc the pid file is trusted.
ours() {
	[[ -r /proc/$1/cmdline ]] || return 0
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "--addr 127.0.0.1:${APP_PORT} "
}

# terminate PID: TERM, wait up to STOP_TIMEOUT seconds, then KILL.
terminate() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	log "pid $pid ignored TERM for ${STOP_TIMEOUT}s; sending KILL"
	kill -KILL "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

# listening: something accepts connections on 127.0.0.1:APP_PORT.
listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/${APP_PORT}") 2>/dev/null
}

# http_get PATH: prints the status code on one line, then the body. Fails when nothing
# answers or the answer is not HTTP. The subshell closes fd 3 however it ends.
http_get() (
	local status line body=""
	exec 3<>"/dev/tcp/127.0.0.1/${APP_PORT}" || exit 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" "$APP_PORT" >&3
	IFS= read -r -t 2 line <&3 || exit 1
	[[ $line =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]] || exit 1
	status=${BASH_REMATCH[1]}
	while IFS= read -r -t 2 line <&3; do
		[[ -z ${line%$'\r'} ]] && break
	done
	IFS= read -r -t 2 -d '' body <&3
	printf '%s\n%s' "$status" "$body"
) 2>/dev/null

# log_since LINE: the log's lines after LINE, at most the last 40: what this start wrote.
log_since() {
	tail -n "+$(($1 + 1))" "$APP_LOG_FILE" 2>/dev/null | tail -n 40 | sed 's/^/  | /'
}

# abort PID LINE MESSAGE: the start failed after launching PID. OpenTofu marks the
# resource tainted and will not run the destroy provisioner for it, so stop the process
# here, show its log and fail.
abort() {
	local pid=$1 from=$2
	shift 2
	if alive "$pid"; then
		terminate "$pid" || log "could not stop pid $pid; kill it by hand"
	fi
	rm -f "$APP_PID_FILE"
	printf 'infra/local: error: %s\n' "$*" >&2
	printf 'infra/local: last lines of %s:\n' "$APP_LOG_FILE" >&2
	log_since "$from" >&2
	exit 1
}

start() {
	: "${APP_SLOT:?} ${APP_VERSION:?} ${APP_PORT:?} ${APP_BINARY:?} ${APP_FAIL:?}"
	: "${APP_PID_FILE:?} ${APP_LOG_FILE:?} ${APP_HEALTH_TIMEOUT:?}"
	local db=${APP_DB:-}
	local url="http://127.0.0.1:${APP_PORT}" pid="" old from probe resp got deadline i
	local self
	self=$(realpath -- "${BASH_SOURCE[0]}" 2>/dev/null) || self=${BASH_SOURCE[0]}
	local -a args launcher

	[[ -x $APP_BINARY && -f $APP_BINARY ]] ||
		die "the sample app binary $APP_BINARY is missing or not executable; build it with: CGO_ENABLED=0 go build -o bin/sampleapp ./test/sampleapp"

	if listening; then
		old=$(cat "$APP_PID_FILE" 2>/dev/null)
		if [[ $old =~ ^[0-9]+$ ]] && alive "$old"; then
			die "port ${APP_PORT} on 127.0.0.1 is already in use, by pid $old from an earlier apply ($APP_PID_FILE): run tofu destroy in that working directory or kill $old, then apply again"
		fi
		die "port ${APP_PORT} on 127.0.0.1 is already in use, so the $APP_SLOT slot cannot start there: stop what listens on it (ss -ltnp 'sport = :${APP_PORT}' shows it) or choose another port"
	fi

	mkdir -p "$(dirname "$APP_PID_FILE")" "$(dirname "$APP_LOG_FILE")" ||
		die "cannot create the run directory for $APP_PID_FILE"
	rm -f "$APP_PID_FILE"
	touch "$APP_LOG_FILE" || die "cannot write the log file $APP_LOG_FILE"
	from=$(wc -l <"$APP_LOG_FILE")
	printf '=== %s infra/local start: slot=%s version=%s port=%s fail=%s db=%s\n' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$APP_SLOT" "$APP_VERSION" "$APP_PORT" "$APP_FAIL" "${db:-none}" >>"$APP_LOG_FILE"

	args=(--addr "127.0.0.1:${APP_PORT}" --version "$APP_VERSION")
	[[ $APP_FAIL == true ]] && args+=(--fail)
	[[ -n $db ]] && args+=(--db "$db")
	[[ -n ${APP_FLAGS:-} ]] && args+=(--flags "$APP_FLAGS")

	# setsid puts the app in its own session, so neither OpenTofu exiting nor a Ctrl-C
	# sent to runbook's process group reaches it; nohup covers systems without setsid.
	# All three standard streams are redirected: OpenTofu waits for the provisioner's
	# output pipe to close, which an app holding it would prevent. The app runs under
	# this script's supervise command, which writes its pid file and removes it when the
	# app exits.
	launcher=(nohup)
	command -v setsid >/dev/null 2>&1 && launcher=(setsid)
	"${launcher[@]}" /bin/bash "$self" supervise "$APP_PID_FILE" "$APP_BINARY" "${args[@]}" \
		</dev/null >>"$APP_LOG_FILE" 2>&1 &

	for ((i = 0; i < 50; i++)); do
		pid=$(cat "$APP_PID_FILE" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ ]] && break
		pid=""
		sleep 0.1
	done
	[[ -n $pid ]] || die "the sample app did not record its pid in $APP_PID_FILE within 5s"

	# The failing app answers 500 at /healthz by design; /version still answers.
	probe=/healthz
	[[ $APP_FAIL == true ]] && probe=/version
	# SECONDS ticks on whole seconds; the +1 makes the wait at least the timeout.
	deadline=$((SECONDS + APP_HEALTH_TIMEOUT + 1))
	while :; do
		alive "$pid" || abort "$pid" "$from" "the sample app (pid $pid) exited during start-up"
		resp=$(http_get "$probe") && [[ ${resp%%$'\n'*} == 200 ]] && break
		((SECONDS < deadline)) ||
			abort "$pid" "$from" "the sample app (pid $pid) did not answer 200 at $url$probe within ${APP_HEALTH_TIMEOUT}s; stopped it"
		sleep 0.2
	done

	# Make sure the answer came from the process just started, at the version asked for.
	resp=$(http_get /version) || abort "$pid" "$from" "$url/version did not answer"
	got=${resp#*$'\n'}
	got=${got%%[[:space:]]*}
	[[ $got == "$APP_VERSION" ]] ||
		abort "$pid" "$from" "$url/version answered '$got', not '$APP_VERSION'"
	log "$APP_SLOT slot up: version $APP_VERSION, pid $pid, $url (log: $APP_LOG_FILE)"
}

stop() {
	: "${APP_PID_FILE:?} ${APP_PORT:?}"
	local pid i
	if [[ ! -e $APP_PID_FILE ]]; then
		log "no pid file at $APP_PID_FILE: nothing to stop"
		return 0
	fi
	pid=$(cat "$APP_PID_FILE" 2>/dev/null)
	if [[ ! $pid =~ ^[0-9]+$ ]]; then
		log "$APP_PID_FILE holds no pid; removing it"
	elif ! alive "$pid"; then
		log "pid $pid has already exited"
	elif ! ours "$pid"; then
		log "pid $pid is not the sample app on port $APP_PORT any more (pid reused?); leaving it alone"
	else
		terminate "$pid" || die "pid $pid survived KILL; stop it by hand, then destroy again"
		log "${APP_SLOT:-app} slot stopped (pid $pid)"
		# Let the supervisor remove the pid file itself, so it is done with the file
		# before a replacement's start writes a new one; a process started without a
		# supervisor (by an older version of this module) leaves it to the rm below.
		for ((i = 0; i < 20; i++)); do
			[[ -e $APP_PID_FILE ]] || break
			sleep 0.1
		done
	fi
	rm -f "$APP_PID_FILE"
}

# supervise PID_FILE BINARY ARGS...: run by start (detached, in its own session) to be
# the app's parent for as long as it runs. It starts the app, writes the app's pid to
# PID_FILE, waits for it, and removes PID_FILE once the app has exited, however it ended
# (stop, crash, kill -9 by someone else). A missing pid file therefore means "not
# running": the next plan replaces terraform_data.app (see main.tf), which is how drift
# checks notice a dead app. TERM, INT and HUP sent to the supervisor are passed on to
# the app. The pid file is only removed while it still holds this app's pid: a newer
# start owns it otherwise.
supervise() {
	local pid_file=$1 app rc sig
	shift
	"$@" &
	app=$!
	trap 'sig=1; kill -TERM "$app" 2>/dev/null' TERM INT HUP
	if ! { echo "$app" >"$pid_file.tmp" && mv -f "$pid_file.tmp" "$pid_file"; }; then
		printf 'infra/local: error: cannot write the pid file %s; stopping pid %s\n' "$pid_file" "$app"
		kill -TERM "$app" 2>/dev/null
	fi
	while :; do
		sig=0
		wait "$app"
		rc=$?
		((sig && rc > 128)) || break # a trapped signal interrupted wait: wait again
	done
	[[ $(cat "$pid_file" 2>/dev/null) == "$app" ]] && rm -f "$pid_file"
	printf '=== %s infra/local: pid %s exited (status %s)\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$app" "$rc"
}

# Each command ends with exit, inside the case: bash reads a script as it runs it, and
# the supervisor outlives the apply that started it, during which OpenTofu's working
# directory (and this file) may be rewritten.
case "${1:-}" in
start)
	start
	exit
	;;
stop)
	stop
	exit
	;;
supervise)
	shift
	(($# >= 2)) || die "usage: sampleapp.sh supervise PID_FILE BINARY [ARGS...]"
	supervise "$@"
	exit 0
	;;
*) die "usage: sampleapp.sh start|stop (inputs in APP_* environment variables)" ;;
esac
