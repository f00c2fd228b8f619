#!/usr/bin/env python3
"""The manual page covers the program: every option each command's --help
prints, every command, and every metric family the source writes appear in
the rendered dsmflow(8).

  manpage.py --dsmflow BIN --man dsmflow.8 --source DIR
"""
import argparse
import glob
import re
import subprocess
import sys

COMMANDS = ["catalog", "lookup", "read", "audit", "live", "queue"]
# an option where --help defines one: at the start of an indented line, or
# after "-x, " on it
OPTION_LINE = re.compile(r"^\s+(-[A-Za-z], )?(--?[A-Za-z][A-Za-z0-9-]*)")


def rendered(man):
    out = subprocess.run(["man", "-l", man], capture_output=True, text=True,
                         env={"MANWIDTH": "1000", "PATH": "/usr/bin:/bin", "MAN_KEEP_FORMATTING": ""})
    if out.returncode != 0:
        sys.exit("manpage: man -l %s failed: %s" % (man, out.stderr))
    return out.stdout.replace("\u2010", "-").replace("\u2212", "-")


def help_options(binary, command):
    args = [binary] + ([command] if command else []) + ["--help"]
    text = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    found = set()
    for line in text.splitlines():
        m = OPTION_LINE.match(line)
        if m:
            found.add(m.group(2))
            if m.group(1):
                found.add(m.group(1)[:-2])
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsmflow", required=True)
    ap.add_argument("--man", required=True)
    ap.add_argument("--source", required=True)
    args = ap.parse_args()
    page = rendered(args.man)
    missing = []
    checked = 0
    for command in [""] + COMMANDS:
        for option in sorted(help_options(args.dsmflow, command)):
            checked += 1
            if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(option), page):
                missing.append("option %s (dsmflow %s --help)" % (option, command or ""))
    for command in COMMANDS:
        if not re.search(r"^\s*%s$" % command, page, re.M):
            missing.append("a section for the command %s" % command)
    families = set()
    for path in glob.glob(args.source + "/src/*.c"):
        families |= set(re.findall(r'"(dsmflow_[a-z_]+)[{ "]', open(path).read()))
    for family in sorted(families):
        checked += 1
        if not re.search(r"(?<![\w-])%s(?![\w-])" % family, page):
            missing.append("metric family " + family)
    for item in missing:
        print("FAIL: the manual page lacks " + item)
    print("manpage: %d options and metric families checked, %d missing" % (checked, len(missing)))
    return 1 if missing or checked < 60 else 0


if __name__ == "__main__":
    sys.exit(main())
