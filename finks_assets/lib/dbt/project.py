"""The dbt project ``finks_dbt`` and its manifest (a build artifact, never parsed at import)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "finks_dbt"
_DBT_SOURCES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


def manifest_is_stale(project_dir: Path, manifest_path: Path) -> bool:
    """Whether any dbt source file is newer than the manifest (or there is no manifest)."""
    if not manifest_path.exists():
        return True
    built = manifest_path.stat().st_mtime
    for name in _DBT_SOURCES:
        source = project_dir / name
        files = [source] if source.is_file() else source.rglob("*") if source.is_dir() else []
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


@cache
def dbt_project() -> DbtProject:
    """The dbt project, with a manifest that matches its sources.

    Under ``dagster dev`` dagster-dbt's ``prepare_if_dev`` runs ``dbt parse`` on every code
    load (seconds each time); here it runs only when a model, macro, seed or config changed
    since the manifest ``make manifest`` built, so edits are still picked up on reload.
    """
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if project.preparer.using_dagster_dev() and manifest_is_stale(
        Path(project.project_dir), Path(project.manifest_path)
    ):
        project.preparer.prepare(project)
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"dbt manifest missing at {project.manifest_path}; run `make manifest` "
            "(dbt parse) before loading the definitions"
        )
    return project
