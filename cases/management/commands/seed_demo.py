from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases import demo


class Command(BaseCommand):
    help = (
        "Create the demo case (the Rostov training-ground desertion) with its users, "
        "incidents, sources, claims and follow-up work. Safe to run again: records that "
        "already exist are left exactly as they are."
    )

    def handle(self, *args, **options):
        if not settings.DEMO_ALLOWED:
            raise CommandError(
                "seed_demo creates accounts with a known password and is for a local demo "
                "only. It refuses to run with DEBUG off; set CASEDESK_ALLOW_DEMO=true if this "
                "really is a demo installation."
            )
        password = settings.DEMO_PASSWORD
        result = demo.seed(password)
        case = result.case
        if result.created:
            self.stdout.write(self.style.SUCCESS(
                f"Demo case “{case.title}” ready: {result.created} records created, "
                f"{result.existing} already there."
            ))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Demo case “{case.title}” already in place: nothing changed."
            ))

        self.stdout.write("")
        self.stdout.write(
            f"Sign in at {demo.SITE_URL} (newsroom pages) or {demo.ADMIN_URL} (admin) "
            f"with password “{password}”:"
        )
        width = max(len(u.username) for u in demo.USERS)
        for spec in demo.USERS:
            self.stdout.write(f"  {spec.username:<{width}}  {spec.description}")
        self.stdout.write(
            "(Passwords are set when an account is first created; DEMO_PASSWORD changes "
            "nothing for accounts that already exist.)"
        )
