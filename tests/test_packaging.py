"""The shipped models travel in the wheel, and a wheel install (not editable) runs the README demo elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
MODEL_FILES = ("model.safetensors", "config.json", "CARD.md")
SHIPPED = sorted(d.name for d in (REPO / "pretrained").iterdir() if (d / "config.json").is_file())


def _run(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built offline from a copy of the source (the build must not write into the work tree)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("sepkit", "pretrained"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", out, src)
    (found,) = out.glob("sepkit-*.whl")
    return found


def test_wheel_holds_every_shipped_model(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        sizes = {info.filename: info.file_size for info in zf.infolist()}
    assert "sepkit/cli/main.py" in sizes and "sepkit/pretrained.py" in sizes
    assert {"enhance-default", "separate-2spk"} <= set(SHIPPED)
    for name in SHIPPED:
        curves = ("curves.png",) if (REPO / "pretrained" / name / "curves.png").is_file() else ()
        for file in MODEL_FILES + curves:  # a card's curves travel with it
            member = f"sepkit/shipped_models/{name}/{file}"
            assert member in sizes, f"{member} is not in {wheel.name}"
            assert sizes[member] == (REPO / "pretrained" / name / file).stat().st_size


@pytest.mark.slow
def test_installed_wheel_enhances_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    # install before the dependencies become visible, so pip sees no other sepkit
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel)
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    # The dependencies come from this test's environment. Its site-packages is added as a plain path
    # (not a site dir, so the editable sepkit's import hook there stays off) after the venv's own;
    # `venv --system-site-packages` would give the base interpreter's, which lack torch.
    (purelib / "test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    work = tmp_path / "elsewhere"
    (work / "examples").mkdir(parents=True)
    shutil.copy2(REPO / "examples" / "noisy.wav", work / "examples" / "noisy.wav")
    env = {k: v for k, v in os.environ.items() if k not in ("SEPKIT_PRETRAINED", "PYTHONPATH")}
    env.update(http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")  # any download would fail

    probe = (
        "import json, sepkit, sepkit.pretrained as p; net = sepkit.load('separate-2spk', device='cpu'); "
        "print(json.dumps({'file': sepkit.__file__, 'n_src': net.n_src, "
        "'models': {k: str(v) for k, v in p.shipped_models().items()}}))"
    )
    found = json.loads(_run(python, "-c", probe, cwd=work, env=env).stdout.strip().splitlines()[-1])
    assert Path(found["file"]).is_relative_to(purelib), found["file"]  # the wheel's copy, not the checkout's
    assert found["n_src"] == 2
    assert set(found["models"]) == set(SHIPPED)
    assert all(Path(path).is_relative_to(purelib / "sepkit" / "shipped_models") for path in found["models"].values())

    # README's quick-start command, run with the wheel's console script
    _run(venv / "bin" / "sepkit", "enhance", "examples/noisy.wav", "-o", "noisy_enhanced.wav", cwd=work, env=env)
    assert sf.info(work / "noisy_enhanced.wav").frames == sf.info(work / "examples" / "noisy.wav").frames
