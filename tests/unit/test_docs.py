"""The docs name every setting, and the README's first commands stay what CI runs."""

from pathlib import Path

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CREDENTIAL_VARS = {"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"}


def setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    missing = sorted(n for n in setting_names() if f"`{n}`" not in doc)
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_every_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    missing = sorted(n for n in setting_names() if f"{n}=" not in example)
    assert not missing, f".env.example lacks {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme.split("\n## ", 1)[0]
    assert "make test" in ci
