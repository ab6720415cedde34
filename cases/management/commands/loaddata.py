"""Django's loaddata, reading encrypted fields as dumpdata writes them.

dumpdata writes a protected identity (and every other encrypted field) as
`encrypted:<Fernet token>` (cases/crypto.py), never in clear. This command is Django's own,
with those tokens opened under CASEDESK_ENCRYPTION_KEYS as the fixture is read: a dump made
with keys the deployment does not hold fails loudly (IdentityDecryptionError), and nothing
is written.
"""

from django.core.management.commands import loaddata

from ... import crypto


class Command(loaddata.Command):
    help = (loaddata.Command.help + " Encrypted fields are read from the tokens dumpdata "
            "writes (CASEDESK_ENCRYPTION_KEYS must hold the key they were made with).")

    def handle(self, *fixture_labels, **options):
        with crypto.reading_serialized_tokens():
            return super().handle(*fixture_labels, **options)
