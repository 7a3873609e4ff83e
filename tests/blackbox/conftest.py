"""Fixtures for cdgate's black-box tests.

Run: ``cd tests && CDGATE_BUILD=/abs/build python3 -m pytest -q -p no:cacheprovider blackbox``

- ``build``: Path of $CDGATE_BUILD (default: build/ of this checkout);
  fails the test clearly when the nine hooks are not built.
- ``imds``: an ImdsServer shared by the session, reset before each test:
  instance i-0123456789abcdef0, region us-east-1, domain amazonaws.com,
  tags enabled {Role: api, Env: production}, lifecycle InService, role
  credentials that the EC2 stand-in accepts.
- ``ec2``: an Ec2Server shared by the session, reset before each test:
  credentials AKIDEXAMPLE / EC2_SECRET plus the IMDS role's, tags
  {Role: api, Env: production} on i-0123456789abcdef0.
- ``ec2_tls``: the same over HTTPS (``ec2_tls.ca_file``).
- ``deploy``: ``deploy(config=None, files=None, ...)`` builds an archive in
  tmp_path with the nine hooks under ``cdgate/`` and cdgate.ini next to
  them; ``.run(program, event=None, env=None, timeout=...)`` runs one hook
  like the agent with AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_REGION and
  AWS_ENDPOINT_URL_EC2 pointing at the stand-ins (env overrides; None
  removes).
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from lib.agent import HOOK_EVENTS, HOOKS, make_archive, run_hook  # noqa: E402
from standin import imds as imds_mod  # noqa: E402
from standin.ec2 import DEFAULT_ACCESS_KEY, DEFAULT_SECRET, Ec2Server, Ec2State  # noqa: E402
from standin.imds import ImdsServer  # noqa: E402

INSTANCE_ID = "i-0123456789abcdef0"
REGION = "us-east-1"
DEFAULT_TAGS = {"Role": "api", "Env": "production"}
EC2_ACCESS_KEY = DEFAULT_ACCESS_KEY          # "AKIDEXAMPLE"
EC2_SECRET = DEFAULT_SECRET
HOOKS_SUBDIR = "cdgate"


def _build_dir() -> Path:
    return Path(os.environ.get("CDGATE_BUILD", TESTS_DIR.parent / "build")).resolve()


@pytest.fixture(scope="session")
def build() -> Path:
    """The build directory; fails clearly if the hooks are not built."""
    b = _build_dir()
    missing = [h for h in HOOKS if not os.access(b / "hooks" / h, os.X_OK)]
    if missing:
        pytest.fail(f"hooks not built in {b}/hooks (missing: {', '.join(missing)}); "
                    f"run `make` first or set CDGATE_BUILD", pytrace=False)
    return b


def ec2_default_state() -> Ec2State:
    """The EC2 stand-in's per-test state (reset() returns to it)."""
    return Ec2State(
        credentials={
            EC2_ACCESS_KEY: {"secret": EC2_SECRET, "token": None},
            imds_mod.DEFAULT_ROLE_ACCESS_KEY: {"secret": imds_mod.DEFAULT_ROLE_SECRET,
                                               "token": imds_mod.DEFAULT_ROLE_TOKEN},
        },
        tags={INSTANCE_ID: dict(DEFAULT_TAGS)},
        region=REGION)


@pytest.fixture(scope="session")
def _imds_server():
    srv = ImdsServer({"instance_id": INSTANCE_ID, "region": REGION,
                      "domain": "amazonaws.com", "tags": dict(DEFAULT_TAGS),
                      "tags_mode": "enabled", "lifecycle_state": "InService"})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def _ec2_server():
    srv = Ec2Server(state=ec2_default_state())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def _ec2_tls_server():
    srv = Ec2Server(tls=True, state=ec2_default_state())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def imds(_imds_server) -> ImdsServer:
    _imds_server.reset()
    yield _imds_server
    _imds_server.release()      # end any hang the test left


@pytest.fixture
def ec2(_ec2_server) -> Ec2Server:
    _ec2_server.reset()
    yield _ec2_server
    _ec2_server.release()


@pytest.fixture
def ec2_tls(_ec2_tls_server) -> Ec2Server:
    _ec2_tls_server.reset()
    yield _ec2_tls_server
    _ec2_tls_server.release()


def keep_history_local(config, tmp_path):
    """A test's hooks must not write the machine's own history file: a
    config that does not name one gets `history` in the test's tmp dir
    (appended as a second [gate] section, so line numbers stay)."""
    if config is None or "history" in config:
        return config
    sep = "" if config.endswith("\n") or not config else "\n"
    return f"{config}{sep}[gate]\nhistory = {tmp_path}/history.jsonl\n"


class Deployment:
    """An archive with the nine hooks, and the stand-ins to point them at."""

    def __init__(self, archive, imds_url: str, ec2_url: str):
        self.archive = archive
        self.path = archive.path
        self.imds_url = imds_url
        self.ec2_url = ec2_url

    def hook(self, program: str) -> Path:
        return self.archive.program(program)

    def env(self, extra=None) -> dict:
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.imds_url,
               "AWS_REGION": REGION,
               "AWS_ENDPOINT_URL_EC2": self.ec2_url}
        env.update(extra or {})
        return env

    def wait_output(self, needle: str, timeout: float = 20.0) -> None:
        """Waits until a hook running now (in another thread) has printed a
        line with needle: the agent's scripts.log gets each line as it comes."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            try:
                if needle.encode() in self.archive.scripts_log.read_bytes():
                    return
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        raise AssertionError(f"no line with {needle!r} within {timeout}s")

    def run(self, program: str, event=None, env=None, timeout: float = 60, **kw):
        """Run hook `program` (e.g. 'before-install') like the agent."""
        path = self.hook(program)
        return run_hook(path, event or HOOK_EVENTS[Path(program).name],
                        env=self.env(env), timeout=timeout,
                        deployment=self.archive, **kw)


@pytest.fixture
def refused_port():
    """A loopback port that refuses connections for the whole test: bound
    and not listening, so that no other test's bind(0) takes it meanwhile
    (a port closed again at once could be anyone's by the time it is used)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def deploy(build, imds, ec2, tmp_path):
    """Factory: deploy(config=None, files=None, config_dir=None, **archive_kw).

    After the test the copies of the nine hooks are removed (the archive's
    logs and config stay for a failure's inspection): they were most of a
    test's directory, about 18 MB with the ASan build, and pytest keeps the
    directories of its last three runs (an ASan run left 18 GB in /tmp)."""
    made = []

    def make(config=None, files=None, config_dir=None, **kw) -> Deployment:
        config = keep_history_local(config, tmp_path)
        programs = {f"{HOOKS_SUBDIR}/{h}": build / "hooks" / h for h in HOOKS}
        arc = make_archive(tmp_path / f"agent{len(made) + 1}", programs, files,
                           config=config, config_dir=config_dir or HOOKS_SUBDIR, **kw)
        made.append(arc)
        return Deployment(arc, imds.url, ec2.url)

    yield make
    for arc in made:
        for copy in arc.programs.values():
            try:
                os.unlink(copy)
            except OSError:
                pass            # moved or removed by the test itself


# -- the valgrind subset (make valgrind) -----------------------------------
# Representative scenarios run with every program under valgrind's memcheck
# (CDGATE_WRAP=valgrind, tests/lib/agent.py): pass, fail, marker wait and
# write, IMDS faults, tags from IMDS and EC2 (pagination, TLS, role
# credentials), health, drain, history, status, cdgate-mark, cdgate-tag,
# lifecycle flips, bad input.  Chosen among tests without sub-second timing
# bounds: valgrind adds about 0.5 s to each program start.  A test file may
# also mark its own tests with @pytest.mark.valgrind.
VALGRIND_SUBSET = {
    "test_marker.py": ("test_valid_marker_passes",
                       "test_directory_created_mid_wait_by_cdgate_mark",
                       "test_failed_status_fails_at_once_with_message",
                       "test_bad_marker_fails_at_once_with_reason"),
    "test_config.py": ("test_bad_config_is_error_with_file_and_line",),
    "test_imds_faults.py": ("test_imds_token_revoked_once_recovers",
                            "test_imds_500_then_ok_passes",
                            "test_imds_garbage_instance_id_fails",
                            "test_imds_invalid_utf8_reply_is_sanitized"),
    "test_tags.py": ("test_tags_from_imds_pass",
                     "test_tags_mismatch_fails_naming_live_value",
                     "test_tags_disabled_falls_back_to_ec2",
                     "test_tags_ec2_pagination",
                     "test_tags_ec2_over_tls_with_ca_bundle",
                     "test_tags_ec2_instance_role_session_token",
                     "test_tags_ec2_malformed_xml",
                     "test_tags_ec2_huge_reply"),
    "test_health.py": ("test_health_body_found_passes",
                       "test_health_wrong_body_names_substring_and_excerpt",
                       "test_health_10mb_body_is_refused_not_cut",
                       "test_health_unix_socket",
                       "test_health_redirect_followed_when_configured"),
    # the drain tests that count sockets have sub-second bounds: their
    # parser runs under fuzz_drain and the sanitizers instead
    "test_drain.py": ("test_drain_config_errors",),
    "test_history.py": ("test_pass_run_records_deployment_bundle_and_marker",
                        "test_fail_run_records_reason_and_exit_code",
                        "test_cdgate_wait_and_mark_record_their_runs",
                        "test_wrong_event_in_appspec_is_recorded_as_a_failed_run"),
    "test_status.py": ("test_json_is_one_object_with_every_part",
                       "test_unreachable_imds_is_reported_quickly"),
    "test_cdgate_tag.py": ("test_cdgate_tag_creates_and_confirms",),
    "test_lifecycle.py": ("test_terminated_skips_at_once_by_default",
                          "test_unknown_state_runs_the_checks_and_says_so"),
    # the bad-reply matrices (a name with [id] selects one case; the
    # dripped reply has a sub-second bound valgrind cannot hold)
    "test_bad_input.py": tuple(
        f"test_imds_bad_reply_fails_closed_by_the_deadline[{c}]"
        for c in ("endless-chunked", "garbage-status-line", "header-only-close",
                  "huge-body", "nul-in-body", "redirect", "status-999",
                  "truncated-body", "truncated-stalled")) + (
        "test_imds_huge_lifecycle_state_fails_closed",
        "test_ec2_bad_reply_fails_closed"),
    "test_mark.py": ("test_mark_writes_ok_marker",
                     "test_mark_run_ok_passes_output_through_and_records_ok",
                     "test_wait_passes_when_marker_appears",
                     "test_wait_times_out"),
    # the second hardening round (tests that run the programs through the
    # runner, without a wrapper of their own, which valgrind would run
    # instead of the program)
    "test_http_bounds.py": ("test_health_redirect_to_another_origin_is_not_followed",
                            "test_health_redirect_from_https_to_http_is_not_followed",
                            "test_headers_just_under_the_cap_pass"),
    "test_hardening2.py": ("test_mark_run_withdraws_the_previous_marker_while_it_runs",
                           "test_marker_boot_id_must_be_well_formed",
                           "test_health_unix_socket_ownership",
                           "test_mark_refuses_a_marker_no_hook_could_pass"),
}


def pytest_configure(config):
    config.addinivalue_line("markers", "valgrind: in the `make valgrind` subset")


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = VALGRIND_SUBSET.get(Path(str(item.fspath)).name, ())
        if getattr(item, "originalname", item.name) in names or item.name in names:
            item.add_marker(pytest.mark.valgrind)


# -- measurements reported at the end of the run --------------------------

# With pytest-xdist the tests run in worker processes: each figure is
# appended to one file in the build directory, which the controller prints.

def _reports_file() -> Path:
    """measurements.txt; the valgrind run (same build) keeps its own."""
    wrap = os.environ.get("CDGATE_WRAP")
    return _build_dir() / "results" / (f"measurements-{wrap}.txt" if wrap
                                       else "measurements.txt")


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):     # the controller
        _reports_file().parent.mkdir(parents=True, exist_ok=True)
        _reports_file().write_text("")


@pytest.fixture
def report():
    """report(text): a measured figure, printed in pytest's summary."""
    def add(text: str) -> None:
        with open(_reports_file(), "a") as f:
            f.write(text.replace("\n", " ") + "\n")
    return add


def pytest_terminal_summary(terminalreporter):
    try:
        lines = _reports_file().read_text().splitlines()
    except OSError:
        return
    if lines:
        terminalreporter.section("cdgate measurements")
        for line in sorted(lines):
            terminalreporter.write_line(line)
