#!/usr/bin/env bash
# Installs every Debian package needed to build, run and test the appliance
# (the union of tools/packages/*.txt) and prepares hugepages.  Idempotent:
# running it again changes nothing that is already in place.
#
#   tools/install.sh [--quiet] [--hugepages N]   (N 2 MiB pages, default 1024)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
quiet=0
hugepages=1024
while [ $# -gt 0 ]; do
	case $1 in
	--quiet) quiet=1 ;;
	--hugepages) hugepages=$2; shift ;;
	-h|--help) sed -n '2,7p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
say() { [ "$quiet" = 1 ] || echo "install: $*"; }

if [ "$(id -u)" != 0 ]; then
	echo "install.sh: must run as root (it installs packages and sets up hugepages)" >&2
	exit 1
fi

# Which packages are missing?  dpkg-query is quick; apt only runs when needed.
mapfile -t wanted < <(cat "$here"/packages/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${#missing[@]} packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# A stale package list is the usual reason an install fails on a new machine.
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ftps-install-apt.log 2>&1 || {
		echo "install.sh: apt-get install failed; see /tmp/ftps-install-apt.log" >&2
		tail -20 /tmp/ftps-install-apt.log >&2
		exit 1
	}
else
	say "all ${#wanted[@]} packages present"
fi

# Hugepages: DPDK runs without them (--no-huge) but slower and with less
# memory; tools/ftps-appliance picks whichever is available and says so.
current=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$current" -lt "$hugepages" ]; then
	if ! echo "$hugepages" > /proc/sys/vm/nr_hugepages 2>/dev/null; then
		say "cannot reserve hugepages here: the appliance will fall back to --no-huge"
	fi
fi
if ! mountpoint -q /dev/hugepages 2>/dev/null; then
	mkdir -p /dev/hugepages
	mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null ||
		say "cannot mount hugetlbfs on /dev/hugepages: the appliance will fall back to --no-huge"
fi
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free:-0}" -ge 256 ] && mountpoint -q /dev/hugepages; then
	say "hugepages: ${free} free 2 MiB pages on /dev/hugepages"
else
	say "hugepages: only ${free:-0} free pages; DPDK processes will run with --no-huge"
fi
mkdir -p /run/netns /run/ftps
say "done"
