# The PHI guard's starting list of test and diagnosis names (editable through the API).

from django.db import migrations
from django.utils import timezone

TERMS = {
    "test": [
        "A1c", "HbA1c", "biopsy", "blood test", "colonoscopy", "CT scan", "genetic test",
        "glucose test", "HIV test", "lab results", "lipid panel", "mammogram", "MRI",
        "Pap smear", "pregnancy test", "PSA", "STD test", "STI test", "ultrasound", "viral load",
        "x-ray",
    ],
    "diagnosis": [
        "AIDS", "alcoholism", "Alzheimer's", "anxiety", "asthma", "bipolar", "cancer", "chlamydia",
        "COPD", "dementia", "depression", "diabetes", "epilepsy", "gonorrhea", "hepatitis",
        "herpes", "HIV", "hypertension", "infertility", "leukemia", "lymphoma", "opioid use",
        "pregnant", "schizophrenia", "substance use", "syphilis", "tuberculosis", "tumor",
        "cáncer", "diabetes tipo 2", "embarazada", "VIH",
    ],
}


def seed(apps, schema_editor):
    PhiTerm = apps.get_model("content", "PhiTerm")
    now = timezone.now()
    for category, terms in TERMS.items():
        for term in terms:
            PhiTerm.objects.get_or_create(
                term=term, defaults={"category": category, "created_at": now}
            )


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
