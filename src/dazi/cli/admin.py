"""``dazi admin``: store integrity (fsck) and garbage collection (gc)."""

from __future__ import annotations

from typing import Annotated

import typer

from dazi.cli._common import DataDir, opened_hub, say

admin_app = typer.Typer(help="Operate the hub: check and clean the store.", no_args_is_help=True)


@admin_app.command("fsck")
def fsck(data_dir: DataDir = None) -> None:
    """Re-hash every blob and check every reference; exit 1 if anything is wrong."""
    from dazi.maintenance import fsck as run_fsck

    with opened_hub(data_dir) as hub:
        report = run_fsck(hub, progress=say)
    for problem in report.problems:
        typer.echo(problem)
    say(
        f"{report.blobs_checked} blobs, {report.git_objects_checked} git objects, {report.refs_checked} refs "
        f"checked; {report.temporaries} unfinished uploads (invisible; `dazi admin gc` removes old ones)"
    )
    if not report.ok:
        say(f"fsck found {len(report.problems)} problem(s)")
        raise typer.Exit(1)
    say("fsck: clean")


@admin_app.command("gc")
def gc(
    grace: Annotated[int | None, typer.Option("--grace", help="Keep garbage younger than this (seconds).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be removed.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Remove unreferenced blobs and abandoned uploads older than the grace period."""
    from dazi.maintenance import gc as run_gc

    with opened_hub(data_dir) as hub:
        report = run_gc(hub, grace, dry_run)
    verb = "would remove" if dry_run else "removed"
    say(
        f"gc {verb} {report.blobs_removed} blobs ({report.bytes_removed} bytes), "
        f"{report.temporaries_removed} unfinished uploads, {report.stale_claims_removed} stale upload claims"
    )
