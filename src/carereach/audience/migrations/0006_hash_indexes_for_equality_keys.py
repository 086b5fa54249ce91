"""E-mail addresses and MRN blind indexes: hash indexes on PostgreSQL (`EqualityIndex`).

Both are looked up by equality alone, and an import writes their keys in random order, which
costs a B-tree more per row than a hash index. SQLite keeps a plain index.
"""

from django.db import migrations

import carereach.audience.models


class Migration(migrations.Migration):
    dependencies = [
        ("audience", "0005_fewer_indexes_per_imported_row"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="email", name="email_address"),
        migrations.AddIndex(
            model_name="email",
            index=carereach.audience.models.EqualityIndex(
                fields=["address"], name="email_address"
            ),
        ),
        migrations.RemoveIndex(model_name="patientprofile", name="patient_mrn_index"),
        migrations.AddIndex(
            model_name="patientprofile",
            index=carereach.audience.models.EqualityIndex(
                fields=["mrn_index"], name="patient_mrn_index"
            ),
        ),
    ]
