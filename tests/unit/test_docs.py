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


#: set by the compose file itself (paths inside the image, the health listener, the published address)
COMPOSE_FIXED = {
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_BIN",
    "CLAUDE_WORKSPACE_ROOT",
    "CLAUDE_WORKERS_DATA_DIR",
    "HEALTH_HOST",
    "HEALTH_PORT",
    "CLAUDE_WORKERS_API_PUBLISHED_ON",
}


def test_compose_passes_every_setting_to_the_containers() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    block = compose.split("x-settings: &settings", 1)[1].split("\nservices:", 1)[0]
    missing = sorted(
        n for n in setting_names() - COMPOSE_FIXED if f"{n}: ${{{n}:-}}" not in block and f"{n}: ${{{n}:-" not in block
    )
    assert not missing, f"docker-compose.yml does not pass {missing} to the containers"
    assert "CLAUDE_WORKERS_LOG_LEVEL: ${CLAUDE_WORKERS_LOG_LEVEL:-}" in block
