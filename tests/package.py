#!/usr/bin/env python3
"""The Debian package, built and used as a user would (root).

  package.py --build DIR --source DIR

Builds the .deb with CPack from DIR (configured with
-DCMAKE_INSTALL_PREFIX=/usr), checks it with lintian (no error), then
installs it with `apt-get install ./dsmflow_*.deb` in a fresh Debian 12
root: a debootstrap minbase root (with systemd, for systemd-analyze) made
once and cached in /var/cache/dsmflow-tests, and used through an overlay, so
every run starts from the same clean root. There it checks: `dsmflow read`
on a sample gives the build's report; the man page, the units, the system
user and the conffile are in place; `systemd-analyze verify` accepts both
units and `systemd-analyze security --offline=true` rates each 2.0 or lower;
and `apt-get purge` removes every file the package installed.

The root's apt lists and the packages dsmflow depends on are fetched when
the cache is made, not installed: apt resolves the package's Depends at
each run (a missing one fails `dsmflow read`), without the network while
they stay the same.
"""
import argparse
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
CACHE = "/var/cache/dsmflow-tests"
ROOT = os.path.join(CACHE, "bookworm-minbase-2")	# renamed when what it holds changes
MIRROR = "http://deb.debian.org/debian"
# what the root needs beyond minbase: systemd-analyze, and man (which
# systemd-analyze verify runs for the units' Documentation=man:dsmflow(8))
INCLUDE = "systemd,man-db"
RUNTIME = ["libpcap0.8", "libnetfilter-queue1", "libmnl0", "libmicrohttpd12", "libseccomp2", "adduser",
           "procps"]
results = {"passed": 0, "failed": 0}


def check(ok, what):
    results["passed" if ok else "failed"] += 1
    if not ok:
        print("FAIL:", what, flush=True)
    return ok


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


def in_root(root, *cmd):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    return run("chroot", root, *cmd, env=env)


def make_cache():
    """The cached root, made once (under a lock: builds may run together)."""
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(ROOT, ".complete")):
            return None
        print("package: making the cached Debian 12 root (once): debootstrap --variant=minbase", flush=True)
        tmp = ROOT + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        res = run("debootstrap", "--variant=minbase", "--include=" + INCLUDE, "bookworm", tmp, MIRROR)
        if res.returncode != 0:
            return "debootstrap failed: " + (res.stderr or res.stdout)[-600:]
        run("mount", "-t", "proc", "proc", tmp + "/proc")
        try:
            for cmd in (["apt-get", "update", "-qq"],
                        ["apt-get", "install", "-y", "-qq", "--download-only"] + RUNTIME):
                res = in_root(tmp, *cmd)
                if res.returncode != 0:
                    return "%s in the root failed: %s" % (" ".join(cmd), res.stderr[-600:])
        finally:
            run("umount", tmp + "/proc")
        open(os.path.join(tmp, ".complete"), "w").close()
        shutil.rmtree(ROOT, ignore_errors=True)
        os.rename(tmp, ROOT)
        return None


def build_deb(build, work):
    res = run("cpack", "-G", "DEB", "-B", work, "--config", os.path.join(build, "CPackConfig.cmake"))
    debs = glob.glob(os.path.join(work, "dsmflow_*.deb"))
    if res.returncode != 0 or len(debs) != 1:
        sys.exit("package: cpack failed: " + res.stdout[-800:] + res.stderr[-800:])
    return debs[0]


def check_lintian(deb):
    res = run("lintian", "--tag-display-limit", "0", deb)
    errors = [l for l in res.stdout.splitlines() if l.startswith("E:")]
    check(not errors, "lintian reports no error: " + "; ".join(errors))
    print("package: lintian: %d errors, %d warnings" % (
        len(errors), sum(l.startswith("W:") for l in res.stdout.splitlines())))


def exposure(root, unit):
    res = in_root(root, "systemd-analyze", "security", "--offline=true", "/lib/systemd/system/" + unit)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", res.stdout)
    return float(m.group(1)) if m else None, (res.stdout + res.stderr)[-400:]


def check_installed(root, args, deb):
    res = in_root(root, "apt-get", "install", "-y", "-q", "/tmp/" + os.path.basename(deb))
    if not check(res.returncode == 0, "apt-get install ./%s: %s" % (os.path.basename(deb), res.stderr[-800:])):
        return []
    files = [f for f in in_root(root, "dpkg", "-L", "dsmflow").stdout.split()
             if not os.path.isdir(root + f)]
    sample = os.path.join(args.source, "pcaps", "dsm-office.pcap")
    want = run(os.path.join(args.build, "dsmflow"), "read", sample).stdout
    got = in_root(root, "dsmflow", "read", "/tmp/dsm-office.pcap")
    check(got.returncode == 0 and got.stdout == want and "DSM" in want,
          "dsmflow read in the root reports as the build does: %s" % (got.stdout[-300:] + got.stderr[-300:]))
    for path in ("/usr/bin/dsmflow", "/usr/share/man/man8/dsmflow.8.gz", "/etc/default/dsmflow",
                 "/lib/systemd/system/dsmflow-live@.service", "/lib/systemd/system/dsmflow-queue@.service",
                 "/usr/share/dsmflow/contrib/prometheus.yml", "/usr/share/doc/dsmflow/copyright"):
        check(path in files, "the package installs " + path)
    page = in_root(root, "man", "-P", "cat", "8", "dsmflow")
    check(page.returncode == 0 and "dsmflow-live@" in page.stdout, "man 8 dsmflow in the root: " + page.stderr)
    check(in_root(root, "getent", "passwd", "dsmflow").returncode == 0, "the postinst made the user dsmflow")
    conffiles = in_root(root, "dpkg-query", "-W", "-f=${Conffiles}", "dsmflow").stdout
    check("/etc/default/dsmflow" in conffiles, "/etc/default/dsmflow is a conffile: " + conffiles)
    for unit in ("dsmflow-live@eth0.service", "dsmflow-queue@0.service"):
        res = in_root(root, "systemd-analyze", "verify", "/lib/systemd/system/" + unit)
        check(res.returncode == 0 and "dsmflow" not in res.stderr,
              "systemd-analyze verify %s: %s" % (unit, res.stderr[-400:]))
    for unit in ("dsmflow-live@.service", "dsmflow-queue@.service"):
        level, text = exposure(root, unit)
        check(level is not None and level <= 2.0, "systemd-analyze security %s: %s (at most 2.0): %s"
              % (unit, level, "" if level is not None else text))
        print("package: %s exposure %s" % (unit, level))
    return files


def container_init(nspawn):
    """The container's init (its PID 1, seen from here): nspawn's child."""
    kids = run("pgrep", "-P", str(nspawn.pid)).stdout.split()
    return int(kids[0]) if kids else None


def inside(pid, *cmd, timeout=30):
    """cmd in the booted container's namespaces."""
    return run("nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "--", *cmd, timeout=timeout)


def wait_until(what, seconds, step=0.5):
    import time
    end = time.time() + seconds
    while time.time() < end:
        got = what()
        if got:
            return got
        time.sleep(step)
    return None


def check_booted(root):
    """Boots the root with systemd (systemd-nspawn, its own network
    namespace) and starts dsmflow-live@lo there as an administrator would:
    the unit runs, as the user dsmflow, confined, and serves /metrics, which
    counts the traffic on lo; enabled and running, it is purged: stopped,
    its enablement link removed."""
    if not shutil.which("systemd-nspawn"):
        print("package: no systemd-nspawn: the units are checked by systemd-analyze only")
        return
    log = open(os.path.join(os.path.dirname(root), "boot.log"), "w")
    nspawn = subprocess.Popen(["systemd-nspawn", "-q", "-D", root, "--boot", "--register=no", "--keep-unit",
                               "--private-network"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        init = wait_until(lambda: container_init(nspawn), 20)
        booted = init and wait_until(
            lambda: inside(init, "systemctl", "is-system-running").stdout.strip() in ("running", "degraded"), 60)
        if not check(bool(booted), "the root boots with systemd-nspawn (log: %s)" % log.name):
            return
        res = inside(init, "systemctl", "start", "dsmflow-live@lo.service")
        check(res.returncode == 0, "systemctl start dsmflow-live@lo: " + res.stderr)
        metrics = wait_until(lambda: fetch(init), 15)
        check(bool(metrics), "the unit serves /metrics on 127.0.0.1:9473")
        last = [""]

        def counted():
            # the ring hands a block over when it is full or 64 ms old, and a
            # snapshot serves scrapes for 250 ms: the earlier scrapes' packets
            # show in a later one
            last[0] = fetch(init) or ""
            read = re.search(r"^dsmflow_read_packets_total (\d+)", last[0], re.M)
            return read is not None and int(read.group(1)) > 0
        check(bool(wait_until(counted, 10)),
              "the sensor counted the scrapes' packets on lo: %s" % last[0][-300:])
        read = re.search(r"^dsmflow_read_packets_total (\d+)", last[0], re.M)
        pid = inside(init, "systemctl", "show", "-p", "MainPID", "--value", "dsmflow-live@lo.service").stdout.strip()
        status = inside(init, "cat", "/proc/%s/status" % pid).stdout
        fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
        user = inside(init, "getent", "passwd", "dsmflow").stdout.split(":")
        check(len(user) > 2 and fields.get("Uid", "").split()[:1] == [user[2]],
              "the sensor runs as the user dsmflow: Uid %s" % fields.get("Uid"))
        check(fields.get("CapEff", "").strip() == "0000000000000000" and fields.get("NoNewPrivs", "").strip() == "1"
              and fields.get("Seccomp", "").strip() == "2",
              "the sensor gave up CAP_NET_RAW and runs under seccomp: %s" % {k: fields.get(k, "").strip()
              for k in ("CapEff", "CapBnd", "NoNewPrivs", "Seccomp")})
        # enabled as an administrator would, then purged while it runs: the
        # prerm stops it, the postrm removes the enablement link
        res = inside(init, "systemctl", "enable", "dsmflow-live@lo.service")
        link = root + "/etc/systemd/system/multi-user.target.wants/dsmflow-live@lo.service"
        check(res.returncode == 0 and os.path.lexists(link), "systemctl enable dsmflow-live@lo: " + res.stderr)
        res = inside(init, "apt-get", "purge", "-y", "-q", "dsmflow", timeout=120)
        check(res.returncode == 0, "apt-get purge dsmflow with the sensor running: " + res.stderr[-400:])
        state = inside(init, "systemctl", "is-active", "dsmflow-live@lo.service").stdout.strip()
        check(state in ("inactive", "failed") and not os.path.lexists(link),
              "the purge stopped the sensor (%s) and removed its enablement link (%s)"
              % (state, "gone" if not os.path.lexists(link) else "left"))
        journal = inside(init, "journalctl", "-u", "dsmflow-live@lo.service", "-o", "cat").stdout
        check("Total:" in journal, "the final report is in the journal: " + journal[-300:])
        print("package: dsmflow-live@lo ran under systemd, served /metrics (%s), as uid %s, CapEff %s CapBnd %s NoNewPrivs %s Seccomp %s"
              % (read.group(0) if read else "-", fields.get("Uid", "").split()[:1], fields.get("CapEff", "").strip(),
                 fields.get("CapBnd", "").strip(), fields.get("NoNewPrivs", "").strip(), fields.get("Seccomp", "").strip()))
    finally:
        nspawn.terminate()
        try:
            nspawn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            nspawn.kill()
            nspawn.wait()
        log.close()


def fetch(init):
    """/metrics of the container's sensor, through curl-less HTTP: a few
    lines of Python from here, in the container's network namespace."""
    code = ("import socket\ns = socket.create_connection(('127.0.0.1', 9473), timeout=5)\n"
            "s.sendall(b'GET /metrics HTTP/1.0\\r\\n\\r\\n')\nd = b''\n"
            "while True:\n    c = s.recv(65536)\n    if not c: break\n    d += c\n"
            "print(d.decode(errors='replace'))\n")
    res = run("nsenter", "-t", str(init), "-n", "--", sys.executable, "-c", code, timeout=10)
    return res.stdout if res.returncode == 0 and "dsmflow_" in res.stdout else None


def check_purged(root, files):
    """(Already purged in the booted root when systemd-nspawn is there: then
    this purge has nothing left to do.)"""
    if in_root(root, "dpkg", "-s", "dsmflow").returncode == 0:
        res = in_root(root, "apt-get", "purge", "-y", "-q", "dsmflow")
        check(res.returncode == 0, "apt-get purge dsmflow: " + res.stderr[-400:])
    left = [f for f in files if os.path.lexists(root + f)]
    check(not left, "apt-get purge leaves none of the package's files: %s" % left)
    check(in_root(root, "dpkg", "-s", "dsmflow").returncode != 0, "dpkg no longer knows dsmflow")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: the package test needs root (debootstrap, chroot, mounts)")
        return SKIP
    for tool in ("debootstrap", "lintian", "cpack"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed (tools/dev.sh test installs it)" % tool)
            return SKIP
    work = tempfile.mkdtemp(prefix="dsmflow-package.")
    mounts = []
    try:
        deb = build_deb(args.build, work)
        check_lintian(deb)
        why = make_cache()
        if why:
            print("SKIP: no Debian 12 root to install into: " + why)
            return SKIP
        root = os.path.join(work, "root")
        for d in ("upper", "work", "root"):
            os.mkdir(os.path.join(work, d))
        res = run("mount", "-t", "overlay", "overlay", "-o", "lowerdir=%s,upperdir=%s/upper,workdir=%s/work"
                  % (ROOT, work, work), root)
        if res.returncode != 0:
            print("SKIP: cannot mount an overlay on the cached root: " + res.stderr)
            return SKIP
        mounts.append(root)
        run("mount", "-t", "proc", "proc", root + "/proc")
        mounts.append(root + "/proc")
        shutil.copy(deb, root + "/tmp/")
        shutil.copy(os.path.join(args.source, "pcaps", "dsm-office.pcap"), root + "/tmp/")
        files = check_installed(root, args, deb)
        if files:
            run("umount", root + "/proc")
            mounts.remove(root + "/proc")
            check_booted(root)
            run("mount", "-t", "proc", "proc", root + "/proc")
            mounts.append(root + "/proc")
            check_purged(root, files)
    finally:
        for m in reversed(mounts):
            run("umount", "-l", m)
        shutil.rmtree(work, ignore_errors=True)
    print("package: %d passed, %d failed" % (results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
