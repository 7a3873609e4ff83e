"""The documentation stays true to the code (issue 7).

- every man page is clean under `mandoc -Tlint` and names only pages that
  exist;
- every section and key src/run/config.c accepts, every marker key and every
  check and event name is documented in cdgate.ini(5);
- every option in a program's usage (`-h`) is documented in its man page;
- every exit code of src/base/status.h is in cdgate(7)'s table;
- every message quoted in docs/troubleshooting.md is one the programs print,
  and every failure message the programs can print has a row there (or a
  stated reason for having none);
- the IAM policy lives once, in docs/iam.md, and the README keeps no copy
  of the reference tables of the man pages and docs/;
- the repository stands alone (issue 11): no tracked file points outside
  it, and every relative link or `docs/...` path in the documents exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lib.agent import HOOK_EVENTS, HOOKS, run_program

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "man"
SRC = ROOT / "src"
PAGES = ["cdgate.7", "cdgate.ini.5", "cdgate-hooks.8", "cdgate-mark.8", "cdgate-tag.8",
         "cdgate-wait.8", "cdgate-status.8"]
PROGRAM_PAGE = {"cdgate-mark": "cdgate-mark.8", "cdgate-tag": "cdgate-tag.8",
                "cdgate-wait": "cdgate-wait.8", "cdgate-status": "cdgate-status.8"}
# manuals outside cdgate that the pages may name
SYSTEM_XR = {("fsync", "2"), ("rename", "2"), ("ss", "8")}
# lint lines that only say a referenced page is not installed here (style
# level, kept out of -W warning anyway)
LINT_IGNORED = ("referenced manual not found", "mandoc.db")


def page(name: str) -> str:
    return (MAN / name).read_text()


def mandoc() -> str:
    path = shutil.which("mandoc")
    if path is None:
        pytest.fail("mandoc is not installed; run `sh tools/deps` (it installs mandoc)",
                    pytrace=False)
    return path


# ---------------------------------------------------------------------------
# man pages


def test_man_pages_are_all_there():
    assert sorted(p.name for p in MAN.iterdir()) == sorted(PAGES)


@pytest.mark.parametrize("name", PAGES)
def test_man_page_lints_clean(name):
    r = subprocess.run([mandoc(), "-Tlint", "-W", "warning", str(MAN / name)],
                       capture_output=True, text=True, timeout=60)
    problems = [ln for ln in (r.stdout + r.stderr).splitlines()
                if ln.strip() and not any(s in ln for s in LINT_IGNORED)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", PAGES)
def test_man_page_names_existing_pages(name):
    text = page(name)
    title = re.search(r"^\.Dt (\S+) (\d)$", text, re.M)
    stem, section = name.rsplit(".", 1)
    assert title and title.group(1) == stem.upper() and title.group(2) == section, title
    for ref, sec in re.findall(r"^\.Xr (\S+) (\d)", text, re.M):
        assert (MAN / f"{ref}.{sec}").exists() or (ref, sec) in SYSTEM_XR, \
            f"{name} names {ref}({sec}), which is not a page"


@pytest.mark.parametrize("name", PAGES)
def test_man_page_renders(name):
    r = subprocess.run([mandoc(), "-Tascii", str(MAN / name)], capture_output=True,
                       timeout=60)
    assert r.returncode == 0 and len(r.stdout) > 1000, r.stderr


# ---------------------------------------------------------------------------
# cdgate.ini(5) against src/run/config.c and src/fmt/markerfile.c


def function_body(text: str, name: str) -> str:
    m = re.search(r"^%s\(.*?^\{(.*?)^\}" % re.escape(name), text, re.M | re.S)
    assert m, f"{name} not found"
    return m.group(1)


def check_defs() -> list:
    """[(file text, {field: value})] of every check of the registry: the
    `const struct check_def check_NAME = {...}` rows of src/checks/*.c
    named in src/run/registry.c's table."""
    table = re.search(r"registry\[\] = \{(.*?)\};", (SRC / "run/registry.c").read_text(), re.S)
    names = re.findall(r"&check_(\w+)", table.group(1))
    assert len(names) >= 5, names
    defs = []
    for f in sorted((SRC / "checks").glob("*.c")):
        text = f.read_text()
        for name, body in re.findall(r"const struct check_def check_(\w+) = \{(.*?)\};", text, re.S):
            if name in names:
                fields = dict(re.findall(r"\.(\w+) = ([^,]+(?:\n\s+\"[^,]*)*),", body))
                defs.append((text, fields))
    assert len(defs) == len(names), (names, [d[1].get(".name") for d in defs])
    return defs


def _keys_of(text: str, fn: str) -> set:
    """The `strcmp(k, "KEY")` keys of a key handler and of its helpers
    (functions whose names start with the handler's)."""
    found = set()
    for m in re.finditer(r"^(%s\w*)\(" % re.escape(fn), text, re.M):
        found |= set(re.findall(r'strn?cmp\(k, "([^"]+)"', function_body(text, m.group(1))))
    return found


def config_keys() -> dict:
    """{section: set of keys} accepted: [gate]'s and the event sections' own
    keys from src/run/config.c (cf_gate, cf_event), every check's from its
    key handler in src/checks/ (section keys, and keys in [gate])."""
    text = (SRC / "run/config.c").read_text()
    keys = {"gate": _keys_of(text, "cf_gate"), "event": _keys_of(text, "cf_event")}
    for ctext, fields in check_defs():
        if "key" not in fields:
            continue
        sec = fields.get("section", '"gate"').strip('"')
        keys.setdefault(sec, set())
        keys[sec] |= _keys_of(ctext, fields["key"].strip())
    for sec, found in keys.items():
        assert found or sec == "tags", f"no keys found for [{sec}]"
    return keys


def config_sections() -> set:
    """[gate], and every check's own section."""
    return {"gate"} | {f["section"].strip('"') for _, f in check_defs() if "section" in f}


def item_lines(text: str) -> list:
    """The .It lines of a page, with mdoc escapes removed."""
    return [ln.replace("\\&", "") for ln in text.splitlines() if ln.startswith(".It ")]


def test_every_config_section_is_documented():
    text = page("cdgate.ini.5")
    sections = config_sections()
    assert {"gate", "marker", "tags", "health", "drain"} <= sections, sections
    for sec in sections:
        assert re.search(r"^\.Ss The \[%s\] section$" % sec, text, re.M), f"[{sec}]"


def test_every_config_key_is_documented():
    items = item_lines(page("cdgate.ini.5"))
    missing = []
    for sec, keys in config_keys().items():
        for key in keys:
            pat = re.compile(r"\bCm %s(?=\s|$)" % re.escape(key))
            if not any(pat.search(ln) for ln in items):
                missing.append(f"[{sec}] {key}")
    assert not missing, "keys accepted by src/run/config.c but not in cdgate.ini.5: " + \
        ", ".join(sorted(missing))


def test_every_marker_key_is_documented():
    body = function_body((SRC / "fmt/markerfile.c").read_text(), "mk_provision")
    keys = set(re.findall(r'strcmp\(k, "([^"]+)"\)', body))
    assert {"status", "instance_id", "boot_id", "finished_at"} <= keys, keys
    items = item_lines(page("cdgate.ini.5"))
    for key in keys:
        assert any(re.search(r"\bCm %s(?=\s|$)" % key, ln) for ln in items), key


def test_every_check_and_event_is_documented():
    checks = [f["name"].strip('"') for _, f in check_defs()]
    assert len(checks) >= 5, checks
    ini = page("cdgate.ini.5")
    hooks = page("cdgate-hooks.8")
    for c in checks:
        assert re.search(r"^\.Cm %s\b" % c, ini, re.M), c
        assert re.search(r"^\.It Cm %s$" % c, hooks, re.M), c
    for prog, event in HOOK_EVENTS.items():
        assert re.search(r"^\.Li %s\b" % event, ini, re.M), event
        assert re.search(r"^\.Nm %s\b" % prog, hooks, re.M), prog
        assert re.search(r"^\.It Nm %s Ta %s Ta " % (prog, event), hooks, re.M), prog


def test_config_defaults_in_man_page_match_headers():
    ini = page("cdgate.ini.5")
    caps = (SRC / "run/config.h").read_text() + (SRC / "fmt/history.h").read_text() + \
        (SRC / "checks/marker.h").read_text()

    def define(name):
        return re.search(r"#define %s\s+(.+?)\s*(/\*|$)" % name, caps, re.M).group(1)

    assert define("CONFIG_DEFAULT_TIMEOUT") == "300" and "(default 300)" in ini
    assert define("CONFIG_MAX_TIMEOUT") == "3600" and "from 1 to 3600" in ini
    assert define("MARKER_DEFAULT_PATH") == '"/var/lib/cdgate/provisioned"'
    assert define("HISTORY_DEFAULT") == '"/var/lib/cdgate/history.jsonl"'
    assert ".Pa /var/lib/cdgate/provisioned" in ini
    assert ".Pa /var/lib/cdgate/history.jsonl" in ini


# ---------------------------------------------------------------------------
# options


def usage_options(text: str) -> set:
    """Options named in a usage text: "-x" for short ones, "--name" for long."""
    opts = set()
    for group in re.findall(r"\[-([A-Za-z]+)\]", text):
        opts |= {"-" + c for c in group}
    opts |= {"-" + c for c in re.findall(r"(?<![\w-])-([A-Za-z])\b", text)}
    opts |= {"--" + n for n in re.findall(r"(?<![\w-])--([a-z][a-z-]*)", text)}
    return opts


def page_options(text: str) -> set:
    """Options documented with Fl in a page: combined (Fl hnV) or single."""
    opts = set()
    for line in text.splitlines():
        if not line.startswith("."):
            continue
        words = line.split()
        for i, w in enumerate(words[:-1]):
            if w != "Fl":
                continue
            arg = words[i + 1]
            if arg.startswith("-") and re.fullmatch(r"-[a-z][a-z-]*", arg):
                opts.add("-" + arg)
            elif re.fullmatch(r"[A-Za-z]+", arg):
                opts |= {"-" + c for c in arg}
    return opts


@pytest.mark.parametrize("program", sorted(PROGRAM_PAGE) + ["before-install"])
def test_every_usage_option_is_in_the_man_page(build, program):
    path = build / ("hooks" if program in HOOKS else "bin") / program
    r = run_program(path, ["-h"])
    assert r.returncode == 0, r.describe()
    want = usage_options(r.stdout)
    assert {"-h", "-V"} <= want, (program, want)
    name = PROGRAM_PAGE.get(program, "cdgate-hooks.8")
    have = page_options(page(name))
    assert want <= have, f"{name} lacks {sorted(want - have)}"


def test_every_hook_has_the_same_usage(build):
    first = None
    for h in HOOKS:
        r = run_program(build / "hooks" / h, ["-h"])
        assert r.returncode == 0, r.describe()
        opts = usage_options(r.stdout)
        first = first or opts
        assert opts == first, h


# ---------------------------------------------------------------------------
# exit codes


def test_every_exit_code_is_in_cdgate_7():
    codes = re.findall(r"^\s*ST_[A-Z]+ = (\d+),?", (SRC / "base/status.h").read_text(), re.M)
    assert len(codes) == 10, codes
    text = page("cdgate.7")
    table = text.split(".Sh EXIT STATUS", 1)[1].split(".Sh ", 1)[0]
    listed = re.findall(r"^\.It (\d+)$", table, re.M)
    assert sorted(map(int, listed)) == sorted(map(int, codes))


# ---------------------------------------------------------------------------
# docs/troubleshooting.md against the sources

_CONV = re.compile(r"%[-+ #0]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|z|j|t|L)?"
                   r"[diouxXeEfgGcsp]")
_LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
HOLE = "\x01"          # a '…' of the documentation


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def source_formats() -> list:
    """Every run of adjacent string literals in src/ and bin/ (comments
    removed), and every format of a helper that prefixes it (MESSAGE_CALLS):
    (regex whose printf conversions match anything, the text with HOLE for
    each conversion, its longest literal piece, its literal length)."""
    out = []
    for f in sorted(SRC.glob("*/*.c")) + sorted((ROOT / "bin").glob("*.c")):
        text = re.sub(r"/\*.*?\*/", " ", f.read_text(), flags=re.S)
        pos = 0
        while (m := _LIT.search(text, pos)) is not None:
            parts, end = [m.group(1)], m.end()
            while (n := re.compile(r'\s*"((?:[^"\\\n]|\\.)*)"').match(text, end)):
                parts.append(n.group(1))
                end = n.end()
            pos = end
            lits = [_unescape(p).replace("%%", "%") for p in _CONV.split("".join(parts))]
            if (entry := _format_entry(lits)) is not None:
                out.append(entry)
    # the helpers that put a fixed text in front of their format
    # (MESSAGE_CALLS): "digest path '%s' " + "does not exist"
    for _, fn, _, fmt in message_formats():
        for suffix in MESSAGE_SUFFIX.get(fn, ("",)):
            if (MESSAGE_CALLS[fn][2] or suffix) and \
                    (entry := _format_entry(format_parts(fmt + suffix))) is not None:
                out.append(entry)
    return out


def _format_entry(lits: list):
    flen = sum(len(p) for p in lits)
    if flen < 4:
        return None
    holes = HOLE.join(lits)
    # the message is what is printed: blanks and newlines at its ends
    # belong to the lines around it
    ends = list(lits)
    ends[0], ends[-1] = ends[0].lstrip(), ends[-1].rstrip()
    rx = re.compile("(?:.*?)".join(re.escape(p) for p in ends), re.S)
    return (rx, holes, max(lits, key=len), flen)


def _matches_one(msg: str, formats) -> bool:
    """One format prints msg: either the format's conversions cover the
    message's varying parts, or the message's '…' cover parts of the
    format (a long list elided).  Most of the literal text must be shared,
    so that a message cannot pass on a generic format ("%s '%s' is %s")."""
    pieces = msg.split(HOLE)
    lit = sum(len(p) for p in pieces)
    longest_m = max(pieces, key=len)
    mrx = re.compile(".*?".join(re.escape(p) for p in pieces), re.S)
    for rx, holes, longest, flen in formats:
        if longest.strip() in msg and rx.fullmatch(msg) and \
                (flen >= 0.6 * lit or (lit - flen <= 24 and flen >= max(10, 0.4 * lit))):
            return True
        if longest_m in holes and mrx.fullmatch(holes) and (lit >= 20 or lit >= 0.5 * flen):
            return True
    return False


def message_in_sources(msg: str, formats, depth: int = 0) -> bool:
    """The message is printed by one format, or is `PREFIX: REST` where a
    format prints PREFIX (status_wrap) or `PREFIX: %s`, and REST is printed
    by the sources."""
    if msg.strip(HOLE + " ") == "" or _matches_one(msg, formats):
        return True
    if depth >= 2:
        return False
    for m in re.finditer(": ", msg):
        head, rest = msg[:m.start()], msg[m.end():]
        if head and (_matches_one(head, formats) or
                     _matches_one(head + ": " + HOLE, formats)) and \
                message_in_sources(rest, formats, depth + 1):
            return True
    return False


def troubleshooting_messages() -> list:
    msgs = []
    for line in (ROOT / "docs" / "troubleshooting.md").read_text().splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split(" | ", 1)[0]
        msgs += re.findall(r"`([^`]+)`", first)
    return msgs


def test_troubleshooting_quotes_many_messages():
    assert len(troubleshooting_messages()) >= 350


def test_troubleshooting_messages_are_printed_by_the_programs():
    formats = source_formats()
    missing = [m for m in troubleshooting_messages()
               if not message_in_sources(m.replace("…", HOLE), formats)]
    assert not missing, "messages in docs/troubleshooting.md that no source prints:\n" + \
        "\n".join(missing)


def test_troubleshooting_check_can_fail():
    """An invented message, and a real one with a changed word, are caught."""
    formats = source_formats()
    assert message_in_sources("marker '\x01' did not appear within \x01s: provisioning has "
                              "not finished (is User Data still running, or did it stop "
                              "before cdgate-mark?)", formats)
    assert not message_in_sources("marker '\x01' did not show up within \x01s: provisioning "
                                  "has not finished", formats)
    assert not message_in_sources("marker '\x01' is haunted by ghosts of old deployments",
                                  formats)
    assert not message_in_sources("unknown keyword '\x01' in [gates] (known: \x01)", formats)
    assert not message_in_sources("\x01 is absent", formats)


def test_iam_policy_lives_in_docs_iam():
    """The least-privilege policy (issue 3) lives once, in docs/iam.md: one
    valid JSON block granting exactly DescribeTags and CreateTags.  The
    README carries no copy that could drift from it, and points there."""
    import json
    text = (ROOT / "docs" / "iam.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert len(blocks) == 1, f"docs/iam.md: {len(blocks)} json blocks, want 1"
    policy = json.loads(blocks[0])
    actions = {s["Action"] for s in policy["Statement"]}
    assert actions == {"ec2:DescribeTags", "ec2:CreateTags"}
    readme = (ROOT / "README.md").read_text()
    assert "```json" not in readme and '"Statement"' not in readme, \
        "README.md carries a policy: keep it in docs/iam.md alone"
    assert "(docs/iam.md)" in readme, "README.md does not link to docs/iam.md"


def test_readme_leaves_reference_to_man_pages_and_docs():
    """Reference material lives once: the settings in cdgate.ini(5), the
    exit codes in cdgate(7) (both checked against the sources above), the
    failure messages in docs/troubleshooting.md.  The README keeps none of
    their tables and names where they are."""
    readme = (ROOT / "README.md").read_text()
    headers = [ln.replace(" ", "") for ln in readme.splitlines() if ln.startswith("|")]
    for header in ("|section|key|", "|code|meaning|", "|message"):
        assert not any(h.startswith(header) for h in headers), \
            f"README.md has a reference table ({header}...)"
    for where in ("cdgate.ini(5)", "cdgate(7)", "(docs/troubleshooting.md)",
                  "(docs/dev/README.md)"):
        assert where in readme, f"README.md does not point to {where}"


# ---------------------------------------------------------------------------
# the sources against docs/troubleshooting.md: every failure message a
# program can print has a row (or a reason, below, why it has none)

# The calls that make or shape a failure message: function -> (index of the
# format argument, index of the exit code argument or None, the text the
# function puts in front of the format).  status_set and out_verdict make
# one; status_wrap puts a context in front of one ("tags: ..."); the others
# make a message, or the part of one, that ends up in a status:
# inifile_error (a line of cdgate.ini or of the marker), walk_fail (a
# --digest path), xp_fail (an EC2 XML reply), health_fail_what (one health
# attempt), tags_why (one tag problem), proc_on_term (the line printed on
# SIGTERM), tool_verdict and mark_verdict (a verdict), ap_err (a line of
# the appspec).  check_imds's argument
# is not a format but the subject of "%s needs instance metadata, but
# [gate] imds = no", which has its row.
MESSAGE_CALLS = {
    "status_set": (2, 1, ""), "out_verdict": (2, 0, ""), "status_wrap": (1, None, ""),
    "inifile_error": (1, None, ""), "walk_fail": (3, 1, "digest path '%s' "),
    "xp_fail": (2, 1, "reply to %s: line %lu: "), "health_fail_what": (2, None, ""),
    "tags_why": (1, None, ""), "proc_on_term": (0, None, ""), "tool_verdict": (3, 1, ""),
    "mark_verdict": (2, 1, ""), "ap_err": (2, None, "appspec '%s' line %lu: "),
    "check_leave_policy": (3, None, ""),
}
# The helpers that put a fixed text after their format, in each of its
# forms: check_leave_policy ends it with what the policy setting (its
# argument, a hole here) said.
MESSAGE_SUFFIX = {"check_leave_policy": (": not checking; %s = skip",
                                         ": failing; %s = fail")}

# Formats with no row of their own, each with the reason.  Only three
# reasons are allowed.
#
# 1. Internal errors: every call raises the format with ST_SOFTWARE (exit
#    70).  They mean a bug in cdgate, whatever the input; the last row of
#    docs/troubleshooting.md says what to do with any of them.
SOFTWARE_ONLY = {
    "cloud-init status '%s' cannot be reported",
    "%s '%s': HTTP %ld",            # notice.c: imds_get answered ST_OK without 200/404
    "%s: too many options",         # tool.c: a program's own table is too long
    "the checks' settings do not fit in CONFIG_STORE (%d bytes): cdgate was built wrong",
    "role item too long",
    "role credentials without instance metadata",
    "digest: 'SHA-256' update failed",
    "digest: 'SHA-256' is not available",
    "digest: 'SHA-256' failed",
    "EC2 request header too long",
    "session token header too long",
    "too many tags",
    "DescribeTags: bad arguments",
    "CreateTags: bad arguments",
    "reply to %s: no buffer",
    "reply to %s: XML parser cannot be set up",
    "reply to DescribeTags: no buffer",
    "tcp '%s': bad address",
    "history: line longer than %zu bytes",
    "history: line longer than %d bytes",
    "sigv4: canonical request does not fit",
    "sigv4: scope does not fit",
    "sigv4: string to sign does not fit",
    "sigv4: no request",
    "sigv4: authorization does not fit",
}

# 2. Parts of a message that has a row: format -> the message quoted in
#    docs/troubleshooting.md that prints it inside (checked below).
_SIGNING = "signing: …"
WRAPPED = {
    # inifile.c: the file and line in front of an inifile_error message
    "%s:%d: %s": "marker is malformed: …:…: …",
    # health.c: a reply's status and an excerpt of its body ("503 'down'"),
    # the failure of one attempt
    "%ld '%s'": "health '…': … after … attempts in …s",
    # imds.c: the reason of one attempt, kept as "the last" of them
    "no time left": "instance metadata '…' did not answer … /latest/…: no time left "
                    "(… attempts in …s)",
    # sigv4.c: the signer's checks of its input, which ec2.c builds itself
    # (constants, a region and credentials checked before) and wraps as
    # "signing: ...".  They return ST_USAGE, so a hook exits with 64, as
    # that row says.  The one an operator can cause, "sigv4: bad access
    # key id", has its own row.
    "sigv4: method '%.20s' is not an uppercase token": _SIGNING,
    "sigv4: bad region '%.40s'": _SIGNING,
    "sigv4: bad service '%.40s'": _SIGNING,
    "sigv4: date '%.40s' is not YYYYMMDDTHHMMSSZ": _SIGNING,
    "sigv4: bad secret key": _SIGNING,
    "sigv4: session token is too long or has bad bytes": _SIGNING,
    "sigv4: bad or oversized body": _SIGNING,
    "sigv4: path is empty, relative or too long": _SIGNING,
    "sigv4: path '%s' has a byte that cannot be sent": _SIGNING,
    "sigv4: path '%s' is not normalised": _SIGNING,
    "sigv4: query is too long": _SIGNING,
    "sigv4: query has a byte that cannot be sent": _SIGNING,
    "sigv4: query has too many parameters": _SIGNING,
    "sigv4: query has a bad percent escape or is too long": _SIGNING,
    "sigv4: too many headers": _SIGNING,
    "sigv4: header name is missing, too long or not a token": _SIGNING,
    "sigv4: header '%s' is too long or has a control byte": _SIGNING,
    "sigv4: headers are too long in all": _SIGNING,
    "sigv4: no header array": _SIGNING,
    "sigv4: header 'host' given twice": _SIGNING,
    "sigv4: header 'authorization' cannot be signed": _SIGNING,
    "sigv4: header 'x-amz-security-token' given with a session token": _SIGNING,
    "sigv4: header 'x-amz-date' differs from the date to sign": _SIGNING,
    "sigv4: no 'host' header": _SIGNING,
}

# 3. Never printed: the only caller replaces the message, or keeps it where
#    nothing prints it.  format -> where it ends.
NOT_PRINTED = {
    # markerfile.c's only call replaces it with its own line error,
    # "digest = '%s': expected sha256: and 64 hex digits" (which has a row)
    'digest \'%.100s\' is not "sha256:" followed by %d hex digits': "markerfile.c mk_provision",
}

_CALL = re.compile(r"^([^\n]*?)\b(%s)\(" % "|".join(MESSAGE_CALLS), re.M)
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|[(),]|[^"\'(),]+')
_RUN = re.compile(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*')


def _call_args(text: str, pos: int) -> list:
    """The top-level arguments of the call whose "(" ends just before pos."""
    depth, args, cur = 0, [], ""
    for m in _TOKEN.finditer(text, pos):
        t = m.group(0)
        if t == "(":
            depth += 1
        elif t == ")":
            if depth == 0:
                return args + [cur.strip()]
            depth -= 1
        elif t == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
            continue
        cur += t
    raise AssertionError(f"unclosed call at offset {pos}")


def message_formats() -> list:
    """(file:line, function, exit code argument or None, format) for every
    MESSAGE_CALLS call in src/*/*.c and bin/*.c, comments removed.  A format
    is a run of adjacent string literals (joined, backslash escapes undone,
    printf conversions kept), after the text the function puts in front of
    it; a format argument with two runs (a ?: between two formats) gives
    two.  A format argument that is not a literal (a message made
    elsewhere) gives none."""
    out = []
    for f in sorted(SRC.glob("*/*.c")) + sorted((ROOT / "bin").glob("*.c")):
        text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)),
                      f.read_text(), flags=re.S)
        for m in _CALL.finditer(text):
            before = m.group(1)
            # a definition (name at the start of its line) or a prototype
            if before == "" or re.search(r"\b(?:int|void|char)\b", before):
                continue
            fi, ci, prefix = MESSAGE_CALLS[m.group(2)]
            args = _call_args(text, m.end())
            assert len(args) > fi, (f.name, m.group(0), args)
            line = text.count("\n", 0, m.start()) + 1
            for run in _RUN.finditer(args[fi]):
                fmt = prefix + _unescape("".join(re.findall(r'"((?:[^"\\\n]|\\.)*)"',
                                                            run.group(0))))
                out.append((f"{f.parent.name}/{f.name}:{line}", m.group(2),
                            args[ci] if ci is not None else None, fmt))
    return out


def format_parts(fmt: str) -> list:
    """The literal text of a format, split at its printf conversions."""
    parts = _CONV.split(fmt.replace("%%", "\x02"))
    return [p.replace("\x02", "%") for p in parts]


def troubleshooting_pieces() -> set:
    """Every quoted message of the document, and each part of one between
    ": " separators (a context, a message it wraps, or both), with HOLE for
    each '…'."""
    pieces = set()
    for msg in troubleshooting_messages():
        msg = msg.replace("…", HOLE)
        cuts = [m.start() for m in re.finditer(": ", msg)]
        for a in [0] + [c + 2 for c in cuts]:
            for b in cuts + [len(msg)]:
                if b > a:
                    pieces.add(msg[a:b])
    return pieces


def format_has_row(fmt: str, pieces) -> bool:
    """Some quoted message (or part of one) is printed by the format: its
    text fills the format's conversions, or its '…' also stand for single
    words of the format's fixed text (a program's name, a number: "bad
    option; see … -h"), never for a phrase (so that "reply to …: line …: …"
    is not the row of every "reply to %s: line %lu: WHAT")."""
    parts = format_parts(fmt)
    ends = list(parts)
    ends[0], ends[-1] = ends[0].lstrip(), ends[-1].rstrip()
    rx = re.compile("(?:.*?)".join(re.escape(p) for p in ends), re.S)
    holes = HOLE.join(parts)
    for piece in pieces:
        if rx.fullmatch(piece):
            return True
        ps = piece.split(HOLE)
        if len(ps) < 2 or sum(len(p) for p in ps) < 10:
            continue
        m = re.fullmatch("(.*?)".join(re.escape(p) for p in ps), holes, re.S)
        if m and all(g == HOLE or re.fullmatch(r"[^\s%s]*" % HOLE, g) for g in m.groups()):
            return True
    return False


def failure_formats() -> list:
    """message_formats() without the verdicts of a pass (out_verdict with
    exit code 0: "configuration is valid ...", "tagged ...") and without the
    formats that are one conversion and nothing else ("%s"): those pass on
    a text made elsewhere, either a message with its own format (checked
    where it is made) or a system text (strerror, libcurl's) inside a
    context that has its row."""
    return [x for x in message_formats()
            if x[2] != "0" and "".join(format_parts(x[3])) != ""]


def test_message_extraction_finds_every_kind_of_call():
    found = {(fn, fmt) for _, fn, _, fmt in message_formats()}
    assert len(found) >= 300, len(found)
    # split over literals, over lines
    assert ("status_set", "instance role '%s': the credentials document lacks "
            "AccessKeyId, SecretAccessKey, Token or Expiration") in found
    # both sides of a ?:
    assert ("status_set", "%s '%s' is empty") in found
    assert ("status_set", "%s '%s' is truncated: the JSON ends early") in found
    # escapes undone, %% kept
    assert ("status_set", "digest '%.100s' is not \"sha256:\" followed by %d hex "
            "digits") in found
    assert ("inifile_error", "tag key '%s': bad %%XX escape") in found
    # the helpers, in src/ and bin/
    assert ("walk_fail", "digest path '%s' does not exist") in found
    assert ("xp_fail", "reply to %s: line %lu: a DOCTYPE, which is refused") in found
    assert ("status_set", "-l: expected a number of entries from 1 to 1000") in found
    assert ("status_set", "-t '%s': expected seconds from 1 to 86400") in found
    assert ("tool_verdict", "out of memory") in found
    # definitions and prototypes are not calls
    assert ("tags_why", "fmt") not in found and all(fmt for _, fmt in found)


def test_every_failure_message_has_a_troubleshooting_row():
    pieces = troubleshooting_pieces()
    exempt = set(SOFTWARE_ONLY) | set(WRAPPED) | set(NOT_PRINTED)
    missing = sorted({f"{where}: {fmt}" for where, _, _, fmt in failure_formats()
                      if fmt not in exempt and not format_has_row(fmt, pieces)})
    assert not missing, (
        "failure messages with no row in docs/troubleshooting.md (add a row: the "
        "message, its exit code, cause and fix; or, for an internal error raised "
        "only with ST_SOFTWARE, add it to SOFTWARE_ONLY in this file):\n" +
        "\n".join(missing))


def test_troubleshooting_exemptions_are_true():
    formats = message_formats()
    by_fmt = {}
    for where, fn, code, fmt in formats:
        by_fmt.setdefault(fmt, []).append((where, fn, code))
    stale = [f for f in list(SOFTWARE_ONLY) + list(WRAPPED) + list(NOT_PRINTED)
             if f not in by_fmt]
    assert not stale, "exempted formats the sources no longer hold:\n" + "\n".join(stale)
    for fmt in SOFTWARE_ONLY:
        bad = [w for w, _, code in by_fmt[fmt] if code != "ST_SOFTWARE"]
        assert not bad, f"'{fmt}' is raised with another code than ST_SOFTWARE at {bad}"
    quoted = troubleshooting_messages()
    for fmt, wrapper in WRAPPED.items():
        assert wrapper in quoted, f"'{fmt}': its wrapper `{wrapper}` is not quoted"
    assert not set(SOFTWARE_ONLY) & set(WRAPPED) and not set(WRAPPED) & set(NOT_PRINTED)


def test_troubleshooting_reverse_check_can_fail():
    pieces = troubleshooting_pieces()
    assert format_has_row("marker '%s' did not appear within %lds: provisioning has not "
                          "finished (is User Data still running, or did it stop before "
                          "cdgate-mark?)", pieces)
    assert format_has_row("unknown key '%s' in [gate] (known: %s)", pieces)
    assert not format_has_row("marker '%s' is haunted by ghosts of old deployments",
                              pieces)
    assert not format_has_row("marker '%s' did not show up within %lds", pieces)
    assert not format_has_row("cloud-init result '%s' is a haunted file", pieces)
    # a '…' of the document may stand for a word of the format, not a phrase
    assert format_has_row("bad option; see cdgate-new -h", {"bad option; see \x01 -h"})
    assert not format_has_row("reply to %s: line %lu: an odd element",
                              {"reply to \x01: line \x01: \x01"})


# ---------------------------------------------------------------------------
# the repository stands alone (issue 11): a clone with nothing beside it
# builds and passes its tests, and nothing in it names a file outside it

# What once pointed outside: the shared material beside the checkout (docs
# and the SigV4 suite, now docs/dev/ and tests/vectors/sigv4/), and the
# checkout's own path on the machine it grew on (a default build directory).
# Written so that this file does not match itself.
OUTSIDE = re.compile(rb"\.\./shared|shared/(?:docs|vectors)"
                     rb"|[\"']shared[\"']\s*/\s*[\"'](?:docs|vectors)[\"']"
                     rb"|/work/(?:main|shared)\b")
# Third-party data kept byte for byte: not ours to edit.
STANDALONE_EXEMPT = ("tests/vectors/",)
# Markdown links, inline and reference style, and `docs/....md` paths.
_MD_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
                      r"|^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_DOC_PATH = re.compile(r"`(docs/[\w./-]+\.md)`")


def tracked_files() -> list:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no tracked files to read")
    r = subprocess.run([git, "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return [p for p in r.stdout.decode().split("\0") if p]


def outside_references(names, root: Path = ROOT) -> list:
    """Each line of the files that points outside, as "path:line: text"."""
    hits = []
    for name in names:
        if name.startswith(STANDALONE_EXEMPT) or not (root / name).is_file():
            continue
        for no, line in enumerate((root / name).read_bytes().split(b"\n"), 1):
            if OUTSIDE.search(line):
                hits.append(f"{name}:{no}: {line.decode('utf-8', 'replace').strip()}")
    return hits


def test_no_tracked_file_points_outside_the_repository():
    names = tracked_files()
    assert "tests/vectors/sigv4/LICENSE" in names and "docs/dev/agent.md" in names
    hits = outside_references(names)
    assert not hits, ("these point outside the repository; refer to docs/dev/, the "
                      "man pages, tests/vectors/ or a path inside the checkout "
                      "instead:\n" + "\n".join(hits))


def test_outside_check_can_fail(tmp_path):
    # split literals, so that this file does not match itself
    bad = {"a.c": "/* see ../" "shared/" "docs/x.md */", "b.py": 'V = R / "sha' 'red" / "vectors"',
           "c.mk": "X=$(CURDIR)/../" "shared/" "vectors/sigv4", "d.md": "see docs/dev/aws.md",
           "e.py": "B = '/work/" "main/build'", "tests/vectors/f": "../" "shared"}
    for name, text in bad.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    hits = outside_references(bad, tmp_path)
    assert sorted(h.split(":")[0] for h in hits) == ["a.c", "b.py", "c.mk", "e.py"], hits


def doc_files() -> list:
    return [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))


def broken_links(path: Path, root: Path = ROOT) -> list:
    """The relative links of a Markdown file (to a file, with or without an
    #anchor) and its `docs/....md` paths that name no file."""
    text = path.read_text()
    bad = []
    for m in _MD_LINK.finditer(text):
        target = (m.group(1) or m.group(2)).split("#", 1)[0]
        if not target or re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
            continue                                # an anchor, a URL, mailto:
        base = root if target.startswith("/") else path.parent
        if not (base / target.lstrip("/")).exists():
            bad.append(f"{path.relative_to(root)}: link to {target}")
    for m in _DOC_PATH.finditer(text):
        if not (root / m.group(1)).exists():
            bad.append(f"{path.relative_to(root)}: names {m.group(1)}")
    return bad


def test_doc_links_point_to_files_that_exist():
    files = doc_files()
    assert ROOT / "docs" / "dev" / "README.md" in files
    bad = [b for f in files for b in broken_links(f)]
    assert not bad, "links to missing files:\n" + "\n".join(bad)


def test_doc_link_check_can_fail(tmp_path):
    (tmp_path / "docs" / "dev").mkdir(parents=True)
    (tmp_path / "docs" / "iam.md").write_text("x\n")
    page_ = tmp_path / "docs" / "dev" / "README.md"
    page_.write_text("[ok](../iam.md) [ok](#top) [ok](https://example.com/x.md)\n"
                     "[gone](agent.md#timeouts) `docs/iam.md` `docs/gone.md`\n"
                     "[ref]: ../../missing.md\n")
    assert broken_links(page_, tmp_path) == ["docs/dev/README.md: link to agent.md",
                                   "docs/dev/README.md: link to ../../missing.md",
                                   "docs/dev/README.md: names docs/gone.md"]
