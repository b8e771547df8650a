"""The README's two opening commands are the ones the project keeps working."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fenced_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for block in blocks[:2] for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _fenced_commands()[1]
    assert "pytest" in test_command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_readme_main_job_uses_the_embedded_dataset():
    assert "--dataset mnist-5k" in _fenced_commands()[0] or "anogan run" in _fenced_commands()[0]
