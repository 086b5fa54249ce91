"""Load the NUCC taxonomy list shipped in the package into the specialty table."""

from typing import Any

from django.db import migrations


def load(apps: Any, schema_editor: Any) -> None:
    from carereach.audience.taxonomy import taxonomy_entries, taxonomy_version

    specialty = apps.get_model("audience", "Specialty")
    version = taxonomy_version()
    specialty.objects.bulk_create(
        [
            specialty(
                code=e.code,
                grouping=e.grouping,
                classification=e.classification,
                specialization=e.specialization,
                display_name=e.display_name,
                version=version,
            )
            for e in taxonomy_entries()
        ],
        batch_size=500,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("audience", "0002_contact_import")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
