# Reserved in the hardening round (issue 11); its operations are filled in by that part's work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("cases", "0011_case_opening_permission")]

    operations = []
