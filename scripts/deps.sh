#!/usr/bin/env bash
# Checks that the Debian packages the tests need are installed. As root with apt-get at
# hand it installs the missing ones; otherwise it prints the apt-get command to run and
# exits non-zero.
#
# To require another package, add one line to REQUIRED: "<check> <debian-package>".
# <check> is a command looked up on PATH, or, when it contains a slash, a path (glob
# allowed) for tools Debian keeps off PATH, e.g. /usr/lib/postgresql/*/bin/pg_ctl.
set -euo pipefail

REQUIRED=(
	"docker-compose docker-compose"
	"/usr/lib/postgresql/*/bin/pg_ctl postgresql"
	"haproxy haproxy"
	"prometheus prometheus"
	"prometheus-alertmanager prometheus-alertmanager"
	"ssh-keygen openssh-client"
	"ssh-agent openssh-client"
	"chromium chromium"
)

present() {
	local check=$1
	if [[ $check == */* ]]; then
		compgen -G "$check" >/dev/null
	else
		command -v "$check" >/dev/null 2>&1
	fi
}

missing_packages() {
	local line check pkg
	for line in "${REQUIRED[@]}"; do
		read -r check pkg <<<"$line"
		present "$check" || echo "$pkg"
	done | sort -u
}

mapfile -t missing < <(missing_packages)
if ((${#missing[@]} == 0)); then
	echo "deps: all required packages are installed"
	exit 0
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
	mapfile -t still < <(missing_packages)
	if ((${#still[@]} > 0)); then
		echo "deps: still missing after install: ${still[*]}" >&2
		exit 1
	fi
	echo "deps: installed ${missing[*]}"
	exit 0
fi

echo "deps: missing Debian packages: ${missing[*]}" >&2
echo "deps: install them with:" >&2
echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
exit 1
