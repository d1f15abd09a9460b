"""``pip install .`` outside the checkout answers a question: the wheel carries everything read at run time.

The wheel is built from a copy of the sources (the checkout is not written to), installed with
``--no-deps --target`` into a temp folder, and asked a question by the venv's interpreter from a folder
outside the checkout, with ``-I -S`` so neither the working directory nor the editable install of the
checkout (a finder that ``site`` adds from a ``.pth`` file) can supply ``assistant``. No network: pip
gets ``--no-index`` and the model is the bundled offline one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT

SOURCES = ("assistant", "eval")
BUILD_FILES = ("pyproject.toml", "README.md")

# Runs in the installed copy: index the tiny corpus, ask, print what the test checks.
ASK = """
import json, sys
from pathlib import Path
sys.path[:0] = json.loads(sys.argv[1])
import assistant
from assistant.qa.prompts import PROMPTS_DIR, load_prompt
from assistant.settings import Settings

settings = Settings(answerer="extractive")
assistant.update_index(settings, progress=False)
response = assistant.build_query_engine(settings).query("首次升规的企业奖励多少？")
load_prompt("answer_system")
print(json.dumps({
    "module": assistant.__file__,
    "prompts": str(PROMPTS_DIR),
    "editable": any("editable" in repr(finder) for finder in sys.meta_path),
    "default_corpus": str(Settings.model_fields["corpus_dir"].default),
    "answer": response.response,
    "answerable": response.metadata["answerable"],
    "sources": [(n.node.metadata.get("file"), n.node.get_content()) for n in response.source_nodes],
}, ensure_ascii=False))
"""


def _packaged_files(root: Path) -> set[str]:
    """Files under ``root/assistant`` that are not Python code (data, prompts, UI assets), relative."""
    base = root / "assistant"
    return {
        str(p.relative_to(base))
        for p in base.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    }


def _build_and_install(tmp_path: Path) -> Path:
    """Wheel from a copy of the sources, installed into a fresh ``--target`` folder; returns the folder."""
    src, dist, target = tmp_path / "src", tmp_path / "dist", tmp_path / "site"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "reports", "baseline")
    for name in SOURCES:
        shutil.copytree(PROJECT_ROOT / name, src / name, ignore=ignore)
    for name in BUILD_FILES:
        shutil.copy(PROJECT_ROOT / name, src / name)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), "."],
                   cwd=src, env=env, check=True, timeout=300)  # fmt: skip
    (wheel,) = dist.glob("policy_qa-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   cwd=tmp_path, env=env, check=True, timeout=300)  # fmt: skip
    return target


@pytest.mark.slow
def test_installed_wheel_answers_a_question_outside_the_checkout(tmp_path: Path, small_corpus: Path) -> None:
    target = _build_and_install(tmp_path)
    assert _packaged_files(target) == _packaged_files(PROJECT_ROOT), "a data file is missing from package-data"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    paths = [str(target), *dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICY_QA_", "OPENAI_", "PYTHON"))}
    env |= {"POLICY_QA_CORPUS_DIR": str(small_corpus), "POLICY_QA_INDEX_DIR": str(tmp_path / "index")}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", ASK, json.dumps(paths)],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    assert Path(out["module"]).is_relative_to(target), out["module"]
    assert Path(out["prompts"]).is_relative_to(target) and not out["editable"]
    assert out["default_corpus"] == "corpus"  # installed: ./corpus, not a folder beside site-packages
    assert out["answerable"] and "20万元" in out["answer"]
    cited = [text for file, text in out["sources"] if file == "alpha_city_measures.txt"]
    assert any("对首次升规的企业给予一次性奖励20万元" in text for text in cited), out["sources"]
