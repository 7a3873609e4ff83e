"""The documentation stays true to the code (issue 7).

- every man page is clean under `mandoc -Tlint` and names only pages that
  exist;
- every section and key src/config.c accepts, every marker key and every
  check and event name is documented in cdgate.ini(5);
- every option in a program's usage (`-h`) is documented in its man page;
- every exit code of src/status.h is in cdgate(7)'s table;
- every message quoted in docs/troubleshooting.md is one the programs print.
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
SYSTEM_XR = {("fsync", "2"), ("rename", "2")}
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
# cdgate.ini(5) against src/config.c and src/marker.c


def function_body(text: str, name: str) -> str:
    m = re.search(r"^%s\(.*?^\{(.*?)^\}" % re.escape(name), text, re.M | re.S)
    assert m, f"{name} not found"
    return m.group(1)


def config_keys() -> dict:
    """{section: set of keys} accepted by src/config.c, read from its cf_*
    functions (`strcmp(k, "KEY")`, `strncmp(k, "PREFIX", n)`)."""
    text = (SRC / "config.c").read_text()
    funcs = {"gate": ["cf_gate"], "marker": ["cf_marker"], "tags": ["cf_tags"],
             "health": ["cf_health", "cf_health_more"], "drain": ["cf_drain"],
             "event": ["cf_event"]}
    keys = {}
    for sec, names in funcs.items():
        found = set()
        for fn in names:
            body = function_body(text, fn)
            found |= set(re.findall(r'strn?cmp\(k, "([^"]+)"', body))
        assert found, f"no keys found for [{sec}]"
        keys[sec] = found
    return keys


def config_sections() -> set:
    body = function_body((SRC / "config.c").read_text(), "config_handler")
    return set(re.findall(r'strcmp\(sec, "([^"]+)"\)', body))


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
    assert not missing, "keys accepted by src/config.c but not in cdgate.ini.5: " + \
        ", ".join(sorted(missing))


def test_every_marker_key_is_documented():
    body = function_body((SRC / "marker.c").read_text(), "mk_provision")
    keys = set(re.findall(r'strcmp\(k, "([^"]+)"\)', body))
    assert {"status", "instance_id", "boot_id", "finished_at"} <= keys, keys
    items = item_lines(page("cdgate.ini.5"))
    for key in keys:
        assert any(re.search(r"\bCm %s(?=\s|$)" % key, ln) for ln in items), key


def test_every_check_and_event_is_documented():
    ev_src = (SRC / "event.c").read_text()
    checks = re.search(r"checks\[CHK_COUNT\] = \{(.*?)\}", ev_src, re.S).group(1)
    checks = re.findall(r'"(\w+)"', checks)
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
    caps = (SRC / "config.h").read_text() + (SRC / "history.h").read_text()

    def define(name):
        return re.search(r"#define %s\s+(.+?)\s*(/\*|$)" % name, caps, re.M).group(1)

    assert define("CONFIG_DEFAULT_TIMEOUT") == "300" and "(default 300)" in ini
    assert define("CONFIG_MAX_TIMEOUT") == "3600" and "from 1 to 3600" in ini
    assert define("CONFIG_DEFAULT_MARKER") == '"/var/lib/cdgate/provisioned"'
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
    codes = re.findall(r"^\s*ST_[A-Z]+ = (\d+),?", (SRC / "status.h").read_text(), re.M)
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
    for f in sorted(SRC.glob("*.c")) + sorted((ROOT / "bin").glob("*.c")):
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
        if MESSAGE_CALLS[fn][2] and (entry := _format_entry(format_parts(fmt))) is not None:
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
    assert len(troubleshooting_messages()) >= 150


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
    assert not message_in_sources("unknown key '\x01' in [gates] (known: \x01)", formats)
    assert not message_in_sources("\x01 is absent", formats)


def test_readme_iam_policy_is_the_one_of_docs_iam():
    """The README carries the least-privilege policy (issue 3); it must be
    the very policy docs/iam.md explains, and valid JSON."""
    import json
    blocks = []
    for name in ("README.md", "docs/iam.md"):
        text = (ROOT / name).read_text()
        m = re.search(r"```json\n(.*?)```", text, re.S)
        assert m, f"{name}: no json block"
        blocks.append(json.loads(m.group(1)))
    assert blocks[0] == blocks[1]
    actions = {s["Action"] for s in blocks[0]["Statement"]}
    assert actions == {"ec2:DescribeTags", "ec2:CreateTags"}


# ---------------------------------------------------------------------------
# the failure messages of the sources

# The calls that make or shape a failure message: function -> (index of the
# format argument, index of the exit code argument or None, the text the
# function puts in front of the format).  status_set and out_verdict make
# one; status_wrap puts a context in front of one ("tags: ..."); the others
# make a message, or the part of one, that ends up in a status:
# inifile_error (a line of cdgate.ini or of the marker), walk_fail (a
# --digest path), xp_fail (an EC2 XML reply), health_fail_what (one health
# attempt), tags_why (one tag problem), proc_on_term (the line printed on
# SIGTERM), status_fail and mark_verdict (a verdict).  gate_imds's argument
# is not a format but the subject of "%s needs instance metadata, but
# [gate] imds = no", which has its row.
MESSAGE_CALLS = {
    "status_set": (2, 1, ""), "out_verdict": (2, 0, ""), "status_wrap": (1, None, ""),
    "inifile_error": (1, None, ""), "walk_fail": (3, 1, "digest path '%s' "),
    "xp_fail": (2, 1, "reply to %s: line %lu: "), "health_fail_what": (2, None, ""),
    "tags_why": (1, None, ""), "proc_on_term": (0, None, ""), "status_fail": (1, 0, ""),
    "mark_verdict": (2, 1, ""),
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
    MESSAGE_CALLS call in src/*.c and bin/*.c, comments removed.  A format
    is a run of adjacent string literals (joined, backslash escapes undone,
    printf conversions kept), after the text the function puts in front of
    it; a format argument with two runs (a ?: between two formats) gives
    two.  A format argument that is not a literal (a message made
    elsewhere) gives none."""
    out = []
    for f in sorted(SRC.glob("*.c")) + sorted((ROOT / "bin").glob("*.c")):
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
    assert ("status_fail", "-l: expected a number of entries from 1 to 1000") in found
    assert ("out_verdict", "-t '%s': expected seconds from 1 to 86400") in found
    # definitions and prototypes are not calls
    assert ("tags_why", "fmt") not in found and all(fmt for _, fmt in found)
