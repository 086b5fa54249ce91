"""`carereach series-release VERSION`: send an approved episode to its series' subscribers now.

Publishing does this by itself (content's published hook); the command is for an episode
approved before subscriptions existed, or to finish a release without waiting for the
scheduler. The whole fan-out runs here, batch by batch; a summary follows.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from carereach.commands import CarereachCommand
from carereach.content.selectors import version_get
from carereach.engagement.selectors import release_progress
from carereach.engagement.services.series import series_release_advance, series_release_create


class Command(CarereachCommand):
    help = "Send an approved episode version to its series' subscribers and print the outcome."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("version_id", type=int, help="the approved episode version's id")

    def run(self, *args: Any, **options: Any) -> None:
        version = version_get(version_id=options["version_id"])
        release = series_release_create(version=version, actor=None)
        batches = series_release_advance(release_id=release.pk)
        release.refresh_from_db()
        counts = release_progress(release=release).as_dict()
        summary = ", ".join(f"{name} {count}" for name, count in counts.items() if count)
        self.stdout.write(
            f"release {release.pk} {release.status}: {release.planned} planned in "
            f"{batches} batch(es); {summary or 'nothing in the outbox'}"
        )
