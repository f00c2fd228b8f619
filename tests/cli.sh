#!/usr/bin/env bash
# cli.sh - the dsmflow command line as a user meets it: exit statuses, help,
# usage errors, catalogue errors with FILE:LINE, --catalog, --port and
# --webapi.
# Usage: cli.sh PATH/TO/dsmflow
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

ok()   { passed=$((passed + 1)); }
bad()  { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect STATUS PATTERN -- ARGS...: runs dsmflow ARGS, checks the exit status
# and that stdout+stderr match the extended regex PATTERN.
expect() {
	local want=$1 pattern=$2
	shift 3
	"$bin" "$@" >"$tmp/out" 2>&1
	local got=$?
	if [ "$got" -ne "$want" ]; then
		bad "dsmflow $*: exit $got, expected $want"; sed 's/^/    /' "$tmp/out" | head -5; return
	fi
	if ! grep -Eq -- "$pattern" "$tmp/out"; then
		bad "dsmflow $*: output lacks /$pattern/"; sed 's/^/    /' "$tmp/out" | head -5; return
	fi
	ok
}

expect 0 'Usage: dsmflow' -- --help
expect 0 'Usage: dsmflow catalog' -- catalog --help
expect 0 'Usage: dsmflow lookup' -- lookup --help
# the version: git describe's (vTAG-N-gHASH, or VERSION+gHASH without a tag,
# -dirty for local changes), or the release's number outside git; libpcap's
expect 0 '^dsmflow [0-9]+\.[0-9]+\.[0-9]+((-[0-9]+-g|\+g)[0-9a-f]+)?(-dirty)?$' -- --version
expect 0 '^libpcap version [0-9]' -- --version
expect 2 'Usage: dsmflow' --
expect 2 "unknown command 'frobnicate'" -- frobnicate
expect 2 "unknown option .*--bogus" -- --bogus catalog
expect 2 "unknown option .*--bogus" -- lookup --bogus tcp/80
expect 2 "unknown format 'xml'" -- catalog --format xml
expect 2 "'tcp/99999' is not PROTO/PORT" -- lookup tcp/99999
expect 2 "'tcp' is not PROTO/PORT" -- lookup tcp
expect 2 "expected one PROTO/PORT" -- lookup
expect 2 "give one port" -- lookup tcp/80-90
expect 0 'Usage: dsmflow audit' -- audit --help
expect 1 "filter 'host nonsense': unknown host" -- read "$(dirname "$0")/../pcaps/dsm-office.pcap" host nonsense
expect 1 'nope.pcap: No such file' -- read nope.pcap
expect 2 'the audit of files is `dsmflow audit`' -- read -f audit "$(dirname "$0")/../pcaps/dsm-office.pcap"
expect 2 '--format audit needs --nas' -- live -i lo -f audit-json
expect 2 'give --nas to read standard input' -- audit -
expect 2 "'yaml' is not table, json, markdown or html" -- audit --nas 192.168.10.5 -f yaml "$(dirname "$0")/../pcaps/dsm-office.pcap"
expect 2 "no capture file given" -- audit --nas 192.168.10.5
expect 0 '^known because given with --nas' -- audit --nas 192.168.10.5 "$(dirname "$0")/../pcaps/dsm-office.pcap"

# lookups: shared, single, dynamic only, absent
expect 0 $'^DSM\tWeb applications\tHTTP\tinbound\tstatic$' -- lookup tcp/5000
[ "$("$bin" lookup tcp/5000 | grep -c $'\tstatic$')" -eq 31 ] && ok || bad "tcp/5000 should list 31 static services"
expect 0 $'^FTP, FTP over SSL, FTP over TLS\tFile transfer\tpassive data\tinbound\tdynamic$' -- lookup tcp/5000
expect 0 $'^VPN Server \\(OpenVPN\\)\tPackages\t-\tinbound\tstatic$' -- lookup udp/1194
expect 1 'only a dynamic range matches' -- lookup tcp/1194
expect 1 $'^FTP, FTP over SSL, FTP over TLS\tFile transfer\tpassive data\tinbound\tdynamic$' -- lookup tcp/1194
expect 1 'tcp/1023: no DSM service' -- lookup tcp/1023
expect 1 'udp/9: no DSM service' -- lookup udp/9
expect 1 'only a dynamic range matches' -- lookup tcp/24523
expect 1 $'passive data\tinbound\tdynamic' -- lookup tcp/24523
expect 0 'Virtual Machine Manager' -- lookup icmp
expect 0 $'Active Backup for Business\tBackup\tvCenter Server and ESXi host\toutbound' -- lookup tcp/443

# --port before or after the command; a new service lands in Custom
expect 0 $'^SSH/SFTP\tSystem\tadded by --port' -- --port tcp/2222=SSH/SFTP lookup tcp/2222
expect 0 $'^Extra syslog\tCustom' -- lookup --port udp/1514=Extra\ syslog udp/1514
expect 2 "is not PROTO/PORT\\[-PORT\\]=SERVICE" -- lookup --port tcp/2222 tcp/22
expect 2 'already in the catalogue' -- lookup --port tcp/22=SSH/SFTP tcp/22

# the catalogue: summary, round trip through --catalog, json
expect 0 '^287 records, 93 services' -- catalog --format summary
"$bin" catalog >"$tmp/cat.tsv" && "$bin" --catalog "$tmp/cat.tsv" catalog >"$tmp/again.tsv" &&
	cmp -s "$tmp/cat.tsv" "$tmp/again.tsv" && ok || bad "catalog TSV does not round-trip"
if command -v python3 >/dev/null; then
	"$bin" catalog --format json | python3 -c '
import json, sys
records = json.load(sys.stdin)
assert len(records) == 287, len(records)
ftp = [r for r in records if r["match"] == "dynamic"]
assert ftp[0]["first_port"] == 1025 and ftp[0]["last_port"] == 65535
assert any("googleapis.com" in r["domains"] for r in records)
' && ok || bad "catalog --format json is not the expected JSON"
fi

# catalogue errors: exit 2 with FILE:LINE, nothing printed on stdout
expect 2 "$tmp/missing.tsv: cannot open catalogue: No such file" -- --catalog "$tmp/missing.tsv" catalog
head -5 "$tmp/cat.tsv" >"$tmp/bad.tsv"
printf 'Backup\tX\ttcp\t70000\t70000\t-\tinbound\tstatic\t-\t-\t-\n' >>"$tmp/bad.tsv"
expect 2 "$tmp/bad.tsv:6: first_port '70000'" -- catalog --catalog "$tmp/bad.tsv"
"$bin" --catalog "$tmp/bad.tsv" lookup tcp/5000 >"$tmp/stdout" 2>/dev/null
[ ! -s "$tmp/stdout" ] && ok || bad "a bad catalogue still printed results"
printf 'not\ta\tcatalogue\n' >"$tmp/junk.tsv"
expect 2 "$tmp/junk.tsv:1: expected the header line" -- --catalog "$tmp/junk.tsv" lookup tcp/80

# the Web API table: round trip through --webapi, errors with FILE:LINE, and
# the services it adds stay out of the catalogue's outputs
expect 0 'webapi-table' -- catalog --help
expect 0 $'^match\tkey\tpackage\tcategory\tservice\tsource$' -- catalog --webapi-table
"$bin" catalog --webapi-table >"$tmp/webapi.tsv" &&
	"$bin" --webapi "$tmp/webapi.tsv" catalog --webapi-table >"$tmp/webapi-again.tsv" &&
	cmp -s "$tmp/webapi.tsv" "$tmp/webapi-again.tsv" && ok || bad "catalog --webapi-table does not round-trip"
[ "$(grep -c $'^api\t' "$tmp/webapi.tsv")" -eq 76 ] && ok || bad "the Web API table should have 76 api rows"
"$bin" --webapi "$tmp/webapi.tsv" catalog >"$tmp/cat-webapi.tsv" && cmp -s "$tmp/cat.tsv" "$tmp/cat-webapi.tsv" &&
	ok || bad "the Web API table changed the catalog TSV output"
expect 0 '^287 records, 93 services' -- --webapi "$tmp/webapi.tsv" catalog --format summary
expect 2 "$tmp/nowebapi.tsv: cannot open Web API table: No such file" -- --webapi "$tmp/nowebapi.tsv" catalog
head -3 "$tmp/webapi.tsv" >"$tmp/badapi.tsv"
printf 'prefix\tSYNO.X.\tX\t-\t-\tsrc\n' >>"$tmp/badapi.tsv"
expect 2 "^dsmflow: $tmp/badapi.tsv:4: unknown match 'prefix'" -- --webapi "$tmp/badapi.tsv" catalog
expect 2 "$tmp/badapi.tsv:4: unknown match" -- lookup --webapi "$tmp/badapi.tsv" tcp/5000
"$bin" --webapi "$tmp/badapi.tsv" catalog >"$tmp/stdout" 2>/dev/null
[ ! -s "$tmp/stdout" ] && ok || bad "a bad Web API table still printed the catalogue"
head -1 "$tmp/webapi.tsv" >"$tmp/unbound.tsv"
printf 'api\tSYNO.X.\tX\tPackages\tNo Such\tsrc\n' >>"$tmp/unbound.tsv"
expect 2 "$tmp/unbound.tsv:2: no service 'No Such' in category 'Packages' in the port catalogue" \
	-- --webapi "$tmp/unbound.tsv" catalog
expect 2 "drop --format" -- catalog --webapi-table --format json
expect 2 '--webapi needs a FILE' -- catalog --webapi
expect 0 $'^Cloud Sync\tWeb API\tadded by --port' -- lookup --port 'tcp/8080=Cloud Sync' tcp/8080

# every write is checked: a full device is said, with the file, and the exit is 1
office="$(dirname "$0")/../pcaps/dsm-office.pcap"
expect 1 '/dev/full: cannot write the report: No space left' -- read -o /dev/full "$office"
expect 1 '/dev/full: cannot write the flow log: No space left' -- read -o /dev/null --flows /dev/full "$office"
expect 1 '/dev/full: cannot write the evidence log: No space left' -- \
	read -o /dev/null --evidence-log /dev/full "$(dirname "$0")/../pcaps/dsm-evidence.pcap"
# -o FILE: a symbolic link stays one (what it names gets the report), a
# replaced file keeps its mode, a directory nobody can write in is said first
ln -s "$tmp/named.json" "$tmp/link.json"
"$bin" read -f json -o "$tmp/link.json" "$office" 2>/dev/null && [ -L "$tmp/link.json" ] &&
	grep -q '"totals"' "$tmp/named.json" && ok || bad "-o through a symbolic link replaced the link"
printf 'old\n' >"$tmp/kept.json" && chmod 640 "$tmp/kept.json"
"$bin" read -f json -o "$tmp/kept.json" "$office" 2>/dev/null &&
	[ "$(stat -c %a "$tmp/kept.json")" = 640 ] && grep -q '"totals"' "$tmp/kept.json" && ok ||
	bad "-o FILE: the replaced file should keep its mode 640, not $(stat -c %a "$tmp/kept.json")"
expect 1 "$tmp/no-dir/r.json: cannot make a file beside it for the report" -- \
	read -o "$tmp/no-dir/r.json" "$office"
"$bin" read "$office" >/dev/full 2>"$tmp/err"
if [ $? -eq 1 ] && grep -q 'standard output: cannot write the report' "$tmp/err"; then ok
else bad "read > /dev/full: exit 1 and a message expected"; fi

# live and queue: usage errors come before any capture is opened
expect 0 'Usage: dsmflow live' -- live --help
expect 0 'queue-bypass' -- queue --help
expect 2 'no interface: give -i IFACE' -- live
expect 2 "--workers: 'x' is not a number 1..64" -- live -i lo --workers x
expect 2 "--workers: '65' is not a number 1..64" -- live -i lo --workers 65
expect 2 "--workers 2: no-such-if0 is not an Ethernet or loopback interface" -- live -i no-such-if0 --workers 2
expect 2 "not a loopback address; add --metrics-public" -- live -i lo --metrics 0.0.0.0:9473
expect 2 "expected PORT, ADDR:PORT, HOST:PORT" -- live -i lo --metrics nonsense
expect 2 "expected PORT, ADDR:PORT, HOST:PORT" -- live -i lo --metrics no-such-host.invalid:9473
expect 2 "-Z: no user 'no-such-user-dsmflow'" -- live -i lo -Z no-such-user-dsmflow
expect 2 "-Z: no user 'no-such-user-dsmflow'" -- queue --queue 1 -Z no-such-user-dsmflow
expect 0 '^Exit status: 0 stopped as asked' -- live --help
expect 0 '^Exit status: 0 stopped as asked' -- queue --help
# a --port name the catalogue lacks is a new service, said with close names
expect 0 "--port tcp/2222=SSH: 'SSH' is not in the catalogue: it becomes a new service in category Custom \(did you mean 'SSH/SFTP'\?\)" -- --port tcp/2222=SSH lookup tcp/2222
expect 0 "it becomes a new service in category Custom$" -- --port tcp/2222=Qwertz lookup tcp/2222
"$bin" --port tcp/2222=SSH/SFTP lookup tcp/2222 2>"$tmp/err" >/dev/null
[ ! -s "$tmp/err" ] && ok || bad "--port with a catalogue name says nothing: $(cat "$tmp/err")"
expect 2 "'-5' is not a number of seconds" -- live -i lo --duration -5
expect 2 "snapshot length" -- live -i lo -s 10
expect 2 'no queue: give --queue N' -- queue
expect 2 "not a queue number" -- queue --queue 70000
expect 2 "or a range A:B of them, A not above B" -- queue --queue 5:2
expect 2 "or a range A:B of them" -- queue --queue 1:70000
expect 2 "or a range A:B of them" -- queue --queue 1:
expect 2 "100 queues; at most 64, one thread each" -- queue --queue 0:99
expect 2 "not a loopback address" -- queue --queue 1 --metrics '[::]:9473'
if [ "$(id -u)" -eq 0 ]; then
	expect 1 'nosuchif0: No such device' -- live -i nosuchif0 --duration 0.1
	expect 1 "filter 'port': can't parse" -- live -i lo --duration 0.1 port
	expect 0 'packets received' -- live -i lo --duration 0.2 -f csv tcp port 1
	expect 1 '/dev/full: cannot write the report: No space left' -- live -i lo --duration 0.2 -o /dev/full tcp port 1
	expect 0 'metrics at http://127\.0\.0\.1:[1-9][0-9]*/metrics' -- live -i lo --duration 0.2 --metrics 0 tcp port 1
	expect 0 'metrics at http://127\.0\.0\.1:[1-9][0-9]*/metrics' -- live -i lo --duration 0.2 --metrics :0 tcp port 1
	expect 0 'metrics at http://127\.0\.0\.2:[1-9][0-9]*/metrics' -- live -i lo --duration 0.2 --metrics 127.0.0.2:0 tcp port 1
	expect 0 'metrics at http://\[::1\]:[1-9][0-9]*/metrics' -- live -i lo --duration 0.2 --metrics '[::1]:0' tcp port 1
	expect 0 'metrics at http://127\.0\.0\.1:[1-9][0-9]*/metrics' -- live -i lo --duration 0.2 --metrics localhost:0 tcp port 1
	# not root: the capability a capture needs is named
	if command -v setpriv >/dev/null; then
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$bin" live -i lo --duration 0.1 \
			>"$tmp/out" 2>&1
		grep -q 'capturing needs CAP_NET_RAW' "$tmp/out" && ok || bad "live as nobody: $(cat "$tmp/out")"
	fi
	# a queue no rule feeds says so after a few seconds (in a network namespace of its own)
	if command -v unshare >/dev/null; then
		unshare -n "$bin" queue --queue 3 --duration 6.5 >"$tmp/out" 2>&1
		grep -q 'no packet has reached queue 3 in 5 s: does an iptables rule send traffic to it' "$tmp/out" \
			&& ok || bad "a quiet queue: $(cat "$tmp/out")"
		unshare -n "$bin" queue --queue 4:6 --duration 6.5 >"$tmp/out" 2>&1
		grep -q 'no packet has reached queues 4:6 in 5 s: .*--queue-balance 4:6 --queue-bypass' "$tmp/out" \
			&& grep -q '^dsmflow queue: ' "$tmp/out" && grep -q '^Total: 0 packets' "$tmp/out" \
			&& ok || bad "quiet queues: $(cat "$tmp/out")"
	fi
fi

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
