"""Shared test set-up: offline environment before any library loads, and common fixtures."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _own_temp_dir_per_xdist_worker() -> None:
    """With ``pytest -n 2`` (pytest-xdist) each worker gets a temp dir of its own, before any library reads it:
    the checks of what the app leaves in the temp dir and in Gradio's cache (test_soak, test_ui) then see only
    their own worker's files, and each worker's PostgreSQL and exports live apart."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    folder = Path(tempfile.gettempdir()) / f"pytest-policy-qa-{worker}"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)  # the postgres user must reach its data dir inside (pg_server.py)
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = None


_own_temp_dir_per_xdist_worker()  # before ``assistant`` loads its libraries

from assistant.settings import PROJECT_ROOT, Settings, prepare_offline_environment  # noqa: E402

prepare_offline_environment()

SEEDS_DIR = PROJECT_ROOT.parent / "shared" / "seeds"
CORPUS_DIR = PROJECT_ROOT / "corpus"


# Session fixtures that are costly to start twice (a server, a warm interpreter): under pytest-xdist the tests
# that use one run on the same worker. Add a new costly session fixture here.
SHARED_SESSION_FIXTURES = ("real_app_url", "pg_server", "zygote")
DURATIONS_KEY = "policy-qa/durations"  # seconds per test of the last run (setup + call + teardown), pytest's cache
UNTIMED_S = 0.5  # a test without a recorded time (none at all: groups go largest first, as xdist's own order)
GROUPS_FILE = "PYTEST_POLICY_QA_GROUPS"  # env: where the workers write each test's group for the controller


def _group_of(item: pytest.Item) -> str:
    return "_".join(sorted(m.args[0] if m.args else m.kwargs.get("name", "default")
                           for m in item.iter_markers("xdist_group")))  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    """Under ``--dist loadgroup``, before the workers start: a file for the groups (below), and xdist keeps the
    collection's order (longest first, below) instead of putting the groups with the most tests first."""
    if getattr(config.option, "dist", "no") == "loadgroup" and not os.environ.get("PYTEST_XDIST_WORKER"):
        config.option.loadscopereorder = False
        folder = Path(tempfile.mkdtemp(prefix="policy-qa-groups-"))
        os.environ[GROUPS_FILE] = str(folder / "groups.json")
        cache = getattr(config, "cache", None)  # one copy for both workers: their orders must be the same
        (folder / "durations.json").write_text(json.dumps(cache.get(DURATIONS_KEY, {}) if cache else {}))


def pytest_unconfigure(config: pytest.Config) -> None:
    if getattr(config.option, "dist", "no") == "loadgroup" and not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(Path(os.environ.pop(GROUPS_FILE, "")).parent, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)  # a hook of xdist: unknown under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """xdist's loadgroup, with each test's group read from the workers' file: xdist 3.8 names the group in the
    test's ``_nodeid``, which pytest 9 no longer reads, so its own loadgroup sent every test on its own (each
    worker then started every server and module fixture for itself)."""
    if config.getvalue("dist") != "loadgroup" or not os.environ.get(GROUPS_FILE):
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FileGroupScheduling(LoadGroupScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # first called once every worker has collected (and written the file)
                path = Path(os.environ[GROUPS_FILE])
                self.groups = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            return self.groups.get(nodeid) or super()._split_scope(nodeid)

    return FileGroupScheduling(config, log)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for ``pytest -n 2 --dist loadgroup`` (``make test``): a test that uses a module-scoped fixture runs
    on the worker that has it (its module is one group), and so does every test of a costly session fixture
    (SHARED_SESSION_FIXTURES); groups that share a test are merged, and so are explicit ``xdist_group`` marks.
    Every other test is sent on its own. Under xdist the longest work goes first (each group and lone test by the
    time its tests took in the last run, from pytest's cache), so the two workers finish together instead of one
    starting a long group or test while the other has nothing left (the order within a group is kept).
    """
    if not config.pluginmanager.hasplugin("xdist"):
        return
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys_of: dict[str, list[str]] = {}
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        defs = fixtures.name2fixturedefs if fixtures else {}
        module = item.nodeid.split("::")[0]
        keys = [f"module:{module}" for d in defs.values() if d and d[-1].scope == "module"][:1]
        keys += [f"session:{name}" for name in SHARED_SESSION_FIXTURES if name in defs]
        keys += [f"mark:{m.args[0] if m.args else m.kwargs.get('name', 'default')}"
                 for m in item.iter_markers("xdist_group")]  # fmt: skip
        keys_of[item.nodeid] = keys
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
    names: dict[str, set[str]] = {}  # every test of a group gets the same set of names: xdist joins them
    for keys in keys_of.values():
        for key in keys:
            names.setdefault(root(key), set()).add(key.split(":", 1)[1] if key.startswith("mark:") else "")
    for item in items:
        if keys := keys_of[item.nodeid]:
            group = root(keys[0])
            have = {m.args[0] if m.args else m.kwargs.get("name", "default") for m in item.iter_markers("xdist_group")}
            wanted = {n for n in names[group] if n} | {group.split(":", 1)[1].replace("/", ".")}
            for name in sorted(wanted - have):
                item.add_marker(pytest.mark.xdist_group(name))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        _longest_first(config, items)
        _write_groups(items)


def _write_groups(items: list[pytest.Item]) -> None:
    """Each grouped test's group, for the controller's scheduler (every worker writes the same map)."""
    if target := os.environ.get(GROUPS_FILE):
        groups = {item.nodeid: group for item in items if (group := _group_of(item))}
        partial = f"{target}.{os.environ['PYTEST_XDIST_WORKER']}"
        Path(partial).write_text(json.dumps(groups), encoding="utf-8")
        os.replace(partial, target)


def _longest_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order ``items`` by the expected time of their work unit (a group, or a lone test), longest first."""
    snapshot = Path(os.environ.get(GROUPS_FILE, "/nonexistent")).with_name("durations.json")
    recorded = json.loads(snapshot.read_text()) if snapshot.is_file() else {}
    unit_of = {item.nodeid: _group_of(item) or item.nodeid for item in items}
    cost: dict[str, float] = {}
    for item in items:
        cost[unit_of[item.nodeid]] = cost.get(unit_of[item.nodeid], 0.0) + float(recorded.get(item.nodeid, UNTIMED_S))
    items.sort(key=lambda item: -cost[unit_of[item.nodeid]])  # stable: a group's tests keep their order


_durations: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Each test's time (its phases add up), for the next run's order; under xdist the controller sees all."""
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _durations and getattr(session.config, "cache", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        recorded = session.config.cache.get(DURATIONS_KEY, {})
        recorded.update({k: round(v, 3) for k, v in _durations.items()})
        session.config.cache.set(DURATIONS_KEY, recorded)


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    """Settings with a private index dir and the offline answerer; the default corpus."""
    return Settings(corpus_dir=CORPUS_DIR, index_dir=tmp_path / "index", answerer="extractive")


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The default corpus indexed once per test session (vectors from the shipped cache when current)."""
    from assistant.index.build import update_index

    settings = Settings(
        corpus_dir=CORPUS_DIR, index_dir=tmp_path_factory.mktemp("corpus-index"), answerer="extractive"
    )
    with _vectors_shared_between_workers(tmp_path_factory, settings.index_dir / "vectors"):
        update_index(settings, progress=False)
    return settings


@contextlib.contextmanager
def _vectors_shared_between_workers(factory: pytest.TempPathFactory, vectors: Path) -> Iterator[None]:
    """Under pytest-xdist each worker indexes the corpus in its own folder, but embeds nothing the first worker
    already embedded: the first build's vector cache is copied in before the others build (the index is then
    identical, as tests/test_indexing.py's fresh copies show). Serially: nothing to share."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    shared = factory.getbasetemp().parent / "corpus-index-vectors"  # the run's folder, above the workers'
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for the first build
        if shared.is_dir() and any(shared.iterdir()):
            shutil.copytree(shared, vectors)
        yield
        if not shared.is_dir():  # (no folder: every vector came from the shipped cache)
            partial = shared.with_suffix(".tmp")
            if vectors.is_dir():
                shutil.copytree(vectors, partial, dirs_exist_ok=True)
            else:
                partial.mkdir(exist_ok=True)
            partial.rename(shared)


@pytest.fixture(scope="session")
def engine(corpus_index: Settings):
    import assistant

    return assistant.build_query_engine(corpus_index)


@pytest.fixture(scope="session")
def real_app_url(corpus_index: Settings) -> Iterator[str]:
    """The whole app (UI, /v1) with the real engine on ``corpus_index``, on loopback, started once per session
    for every test that talks to it through HTTP, gradio_client or a browser."""
    from assistant.server import serving

    with serving(corpus_index) as url:
        yield url


@pytest.fixture(scope="session")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A warm interpreter that forks a fresh child per script (tests/forking.py): kill -9 tests without an
    interpreter start each."""
    from forking import Zygote

    zygote = Zygote(tmp_path_factory.mktemp("zygote"))
    yield zygote
    zygote.close()


SMALL_DOCS = {
    "alpha_city_measures.txt": (
        "甲市促进中小企业发展若干措施\n\n一、支持企业做大做强\n"
        "（一）奖励新升规企业。对首次升规的企业给予一次性奖励20万元。\n"
        "（二）支持企业上市。对在境内主板上市的企业给予奖励300万元。\n"
        "二、优化融资服务\n（一）降低担保费率。政府性融资担保机构担保费率不超过1%。\n"
    ),
    "beta_county_opinions.txt": (
        "乙县关于支持民营经济发展的意见\n\n一、减轻企业负担\n"
        "1.减免租金。对入驻孵化器的小微企业，前两年租金全免。\n"
        "2.稳岗返还。对不裁员或少裁员的企业，返还上年度失业保险费的50%。\n"
    ),
}


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Two tiny documents in a fresh folder (cheap to embed with the real model)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in SMALL_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def small_settings(tmp_path: Path, small_corpus: Path) -> Settings:
    return Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", answerer="extractive")
