#!/usr/bin/env bash
# The programs the benchmarks drive, from Debian's packages: Postfix's smtp-sink and
# smtp-source (package postfix) and wrk. Installs what is missing when run as root with apt-get;
# otherwise says what to install. Postfix is installed unconfigured ("No configuration"), so no
# mail server starts; the benchmarks only run its smtp-sink and smtp-source test programs.
set -euo pipefail

missing=()
[[ -x /usr/sbin/smtp-sink && -x /usr/sbin/smtp-source ]] || missing+=(postfix)
command -v wrk >/dev/null || missing+=(wrk)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "bench/tools.sh: please install the Debian packages: ${missing[*]}" >&2
    exit 1
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
echo "bench/tools.sh: installed ${missing[*]}"
