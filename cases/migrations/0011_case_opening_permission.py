# Reserved in the hardening round (issue 11); its operations are filled in by that part's work.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("cases", "0010_source_address_in_identity")]

    operations = []
