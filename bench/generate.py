"""Synthetic newsroom data for benchmarks, loaded into PostgreSQL with COPY.

    python bench/generate.py --scale 1.0 --seed 1 --database-url postgres://…/casedesk_bench

At scale 1.0: 1,000 cases, 200,000 incidents, 1,000,000 claims, 2,000,000 citations (about
12% of them through one or two relays, sources of the same case: `RELAY_SHARES`), 20,000
sources (10% protected, each with an encrypted identity), 50 users and their memberships.
Every count is multiplied by the scale (users: at least 3). The same seed gives the same
rows, text included.

The text is a mix of English and Russian in the newsroom's register (desertions, detentions,
courts, places in southern Russia), built from sentence templates and a Zipf-distributed
vocabulary, so that some words are in a large share of the rows ("military", "задержаны")
and others in a handful (village names, unit numbers).

Incidents are placed as a desk places them (`incident_location`): most at a point or a town
around their region's centre, some only to a district, a region or the country, about one in
seven not at all; their dates are a day, a month or a year (`occurrence`). A claim with a
figure counts deserters, detained or wanted people (`FIGURE_UNITS`), so that a case tracks
three figures. Where an incident is and what a figure counts are drawn from the ids alone,
not from the text's random sequence: the rest of the data is the same as before they were
added.

Claims have the statuses of a working newsroom, and each status is its last verification
event's, as the workflow (cases/workflow.py) leaves it: every claim that is not unverified has
one event, the move from unverified straight to its status (a move the workflow allows for
every status), by the chief editor, at the claim's creation (`write_status_events`, one
INSERT … SELECT). The workflow's checks of the record are not replayed (supporting
citations, independence, four-eyes for the chief's own claims): the data is sized like a
newsroom's, not argued like one.

Used as a library by the benchmarks (`generate(database_url, scale=…, seed=…)`): it needs a
migrated database (`--migrate` runs `manage.py migrate` first) whose case data is empty
(`--reset` empties it first). What it writes bypasses Django on purpose (COPY, no
simple-history rows: benchmark data is not an editorial record):

- Plain indexes of the loaded tables are dropped before COPY and rebuilt after it (building a
  GIN index once is many times faster than growing it row by row); constraint indexes stay.
- Foreign keys are not checked row by row while loading (`session_replication_role =
  replica`): the generator only ever points at rows it wrote itself, in the same case.
- Sequences are moved past the written ids, then VACUUM ANALYZE gives the planner
  statistics and the visibility map a real database would have.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_COUNTS = {
    "users": 50,
    "cases": 1_000,
    "sources": 20_000,
    "incidents": 200_000,
    "claims": 1_000_000,
    "citations": 2_000_000,
}
BENCH_PASSWORD = "bench-password-not-secret"
# Tables written here, parents first. Emptied by --reset (with everything that refers to them).
TABLES = ["auth_user", "cases_incidenttype", "cases_case", "cases_membership", "cases_source",
          "cases_sourceidentity", "cases_incident", "cases_claim", "cases_citation",
          "cases_citationrelay", "cases_verificationevent"]
BIG_TABLES = ["cases_source", "cases_incident", "cases_claim", "cases_citation",
              "cases_citationrelay",
              "cases_membership", "cases_verificationevent"]

# ---------------------------------------------------------------------------------------
# Vocabulary. Order matters: earlier words are drawn more often (Zipf).

EN_WORDS = """
military soldiers reported according unit officials region training ground deserters
detained police court investigators commander village mobilised contract fled caught
searched missing wounded killed drone attack shelling border checkpoint prosecutor
sentenced criminal opened article desertion absence leave service servicemen battalion
brigade regiment convoy barracks weapons rifles ammunition arrested charged trial hearing
lawyer relatives mother wife brother families complained conditions commanders beaten
refused orders frontline return hospital injured treatment bodies identified funeral
local media channel telegram published video footage photos witnesses residents told
journalists confirmed denied declined comment ministry defence spokesman statement
governor administration emergency evacuation damage houses roads bridge railway station
fuel depot explosion fire night morning evening week month year several dozens hundreds
""".split()

RU_WORDS = """
военнослужащие сообщили военные часть полигон дезертиры задержаны полиция суд
следователи командир село мобилизованные контрактники бежали розыск пропали погибли
ранены беспилотник обстрел граница блокпост прокуратура приговорил уголовное дело
статья самовольное оставление части службу батальон бригада полк колонна казарма
оружие автоматы боеприпасы арестованы обвинение процесс заседание адвокат родственники
мать жена брат семьи жаловались условия командиры избили отказались приказ фронт
вернуться госпиталь раненых лечение тела опознаны похороны местные СМИ канал телеграм
опубликовали видео кадры фото свидетели жители рассказали журналистам подтвердили
опровергли отказались комментировать министерство обороны пресс-служба заявление
губернатор администрация эвакуация разрушения дома дороги мост железная станция
топливо склад взрыв пожар ночью утром вечером неделе месяце году несколько десятки
сотни дезертира дезертиров дезертирам задержан задержали сбежавших военнослужащего
""".split()

REGIONS = ["Rostov Oblast", "Belgorod Oblast", "Kursk Oblast", "Voronezh Oblast",
           "Krasnodar Krai", "Bryansk Oblast", "Ростовская область", "Белгородская область",
           "Курская область", "Воронежская область", "Краснодарский край", "Брянская область"]
TOWNS = ["Rostov-on-Don", "Taganrog", "Novocherkassk", "Shakhty", "Belgorod", "Kursk",
         "Voronezh", "Bryansk", "Krasnodar", "Valuyki", "Shebekino", "Kamensk-Shakhtinsky",
         "Ростов-на-Дону", "Таганрог", "Новочеркасск", "Шахты", "Белгород", "Курск", "Воронеж",
         "Брянск", "Краснодар", "Валуйки", "Шебекино", "Каменск-Шахтинский"]
SYLLABLES_EN = ["ka", "li", "no", "vo", "ro", "sha", "tin", "ov", "sk", "be", "ry", "zo",
                "ma", "pe", "tro", "gor", "ye", "lo", "du", "ni"]
SYLLABLES_RU = ["ка", "ли", "но", "во", "ро", "ша", "тин", "ов", "ск", "бе", "ры", "зо",
                "ма", "пе", "тро", "гор", "е", "ло", "ду", "ни"]
OUTLETS = ["161.ru", "Mediazona", "Meduza", "Astra", "Baza", "SOTAvision", "Vyorstka",
           "Novaya Gazeta Europe", "The Insider", "BBC Russian", "Fontanka", "RBC",
           "TASS", "RIA Novosti", "Kommersant", "Vot Tak", "Sibir.Realii", "Idel.Realii",
           "Ministry of Defence", "Southern District Military Court"]
CODENAME_WORDS = ["Heron", "Birch", "Falcon", "Willow", "Granite", "Lantern", "Juniper",
                  "Harbor", "Cedar", "Comet", "Sparrow", "Quartz", "Ember", "Thistle"]

EN_TEMPLATES = [
    "{n} {deserters} fled the {place} training ground, {source} reported.",
    "According to {source}, {n} soldiers of unit {unit} were detained near {place}.",
    "The military court in {town} sentenced a contract soldier to {n} years for desertion.",
    "Police in {region} searched for {n} mobilised men who left their unit near {place}.",
    "Relatives say {n} servicemen from {place} are missing after the shelling.",
    "Investigators opened a criminal case under article 337 against {n} soldiers in {town}.",
    "A drone attack damaged a fuel depot near {place}, the governor of {region} said.",
]
RU_TEMPLATES = [
    "{n} {ru_deserters} сбежали с полигона под {place}, сообщает {source}.",
    "По данным {source}, в {town} задержаны {n} военнослужащих части {unit}.",
    "Военный суд в {town} приговорил контрактника к {n} годам за самовольное оставление части.",
    "Полиция в регионе {region} ищет {n} мобилизованных, покинувших часть у села {place}.",
    "Родственники сообщают, что {n} военнослужащих из {place} пропали после обстрела.",
    "Следователи возбудили уголовное дело по статье 337 против {n} военных в {town}.",
    "Беспилотник атаковал склад топлива у села {place}, заявил губернатор.",
]


def _zipf_cum_weights(n: int) -> list[float]:
    total, cum = 0.0, []
    for rank in range(1, n + 1):
        total += 1.0 / rank
        cum.append(total)
    return cum


@dataclass
class TextMaker:
    """Deterministic sentences, given a seeded random.Random."""

    rng: random.Random
    villages_en: list[str] = field(default_factory=list)
    villages_ru: list[str] = field(default_factory=list)

    def __post_init__(self):
        r = self.rng
        self.villages_en = sorted({
            "".join(r.choice(SYLLABLES_EN) for _ in range(r.randint(2, 4))).capitalize() + "ovka"
            for _ in range(6000)})
        self.villages_ru = sorted({
            "".join(r.choice(SYLLABLES_RU) for _ in range(r.randint(2, 4))).capitalize() + "овка"
            for _ in range(6000)})
        self.en_cum = _zipf_cum_weights(len(EN_WORDS))
        self.ru_cum = _zipf_cum_weights(len(RU_WORDS))

    def place(self, russian: bool) -> str:
        r = self.rng
        if r.random() < 0.5:
            return r.choice(TOWNS)
        return r.choice(self.villages_ru if russian else self.villages_en)

    def filler(self, russian: bool, k: int) -> str:
        words, cum = (RU_WORDS, self.ru_cum) if russian else (EN_WORDS, self.en_cum)
        return " ".join(self.rng.choices(words, cum_weights=cum, k=k))

    def sentence(self, russian: bool, source: str) -> str:
        r = self.rng
        template = r.choice(RU_TEMPLATES if russian else EN_TEMPLATES)
        text = template.format(
            n=r.randint(2, 300), place=self.place(russian), town=r.choice(TOWNS),
            region=r.choice(REGIONS), unit=r.randint(10000, 99999), source=source,
            deserters=r.choice(["deserters", "soldiers", "conscripts", "servicemen"]),
            ru_deserters=r.choice(["дезертиров", "военных", "срочников", "мобилизованных"]),
        )
        return f"{text} {self.filler(russian, r.randint(3, 12)).capitalize()}."

    def title(self, russian: bool) -> str:
        r = self.rng
        if russian:
            what = r.choice(["Побег", "Задержание", "Обстрел", "Суд", "Розыск"])
            return f"{what} в {self.place(True)}"
        what = r.choice(["Desertion", "Detention", "Shelling", "Trial", "Search"])
        return f"{what} near {self.place(False)}"


# ---------------------------------------------------------------------------------------


@dataclass
class Summary:
    counts: dict[str, int]
    seconds: float
    chief_username: str
    usernames: list[str]
    password: str = BENCH_PASSWORD


# The columns the generators write, in the order their rows list the values (bench/pages.py
# writes its 1,000-claim case with the same rows).
INCIDENT_COLUMNS = [
    "id", "created_at", "updated_at", "title", "description", "occurred", "occurred_earliest",
    "occurred_latest", "place_name", "admin_region", "country", "latitude", "longitude",
    "geo_precision", "involved", "detained", "killed", "injured", "missing", "at_large",
    "case_id", "created_by_id", "type_id"]
CLAIM_COLUMNS = [
    "id", "created_at", "updated_at", "statement", "figure_value", "figure_unit",
    "figure_qualifier", "credibility", "status", "proposed_verdict", "case_id", "created_by_id",
    "proposed_by_id", "incident_id"]
CITATION_COLUMNS = [
    "id", "created_at", "updated_at", "relation", "quote", "url", "published_at",
    "accessed_at", "language", "created_by_id", "claim_id", "incident_id", "source_id"]
RELAY_COLUMNS = ["id", "position", "citation_id", "source_id"]
# Of 100 citations: 10 came through one relay, 2 through two (a source of the same case).
RELAY_SHARES = ((0.02, 2), (0.12, 1))
# What a claim's figure counts, picked by its value (see the module docstring).
FIGURE_UNITS = ["deserters", "detained", "wanted"]
# Where incidents happened: the centre of each region (latitude, longitude), the country's
# for incidents placed only in the country, and how far around the centre (degrees) the
# places of each precision lie.
REGION_CENTRES = {
    "Rostov Oblast": (47.7, 40.7), "Belgorod Oblast": (50.7, 37.4),
    "Kursk Oblast": (51.6, 36.1), "Voronezh Oblast": (50.9, 39.9),
    "Krasnodar Krai": (45.4, 39.4), "Bryansk Oblast": (52.9, 33.4),
    "Ростовская область": (47.7, 40.7), "Белгородская область": (50.7, 37.4),
    "Курская область": (51.6, 36.1), "Воронежская область": (50.9, 39.9),
    "Краснодарский край": (45.4, 39.4), "Брянская область": (52.9, 33.4),
}
COUNTRY_CENTRE = (61.5, 105.3)
# Of 20 incidents: 7 at a point, 5 in a town, 2 in a district, 2 in a region, 1 in the
# country, 3 not placed.
PRECISIONS = ["point"] * 7 + ["town"] * 5 + ["district"] * 2 + ["region"] * 2 + ["country"] \
    + [""] * 3
PRECISION_SPREAD = {"point": 1.5, "town": 1.5, "district": 1.0, "region": 0.0, "country": 0.0}


def incident_location(seed: int, incident_id: int, region: str) -> tuple:
    """(latitude, longitude, geo_precision) of an incident in `region`, or (None, None, "")
    for one not placed: drawn from the seed and the id alone (see the module docstring)."""
    r = random.Random(seed * 10_000_019 + incident_id)
    precision = r.choice(PRECISIONS)
    if not precision:
        return None, None, ""
    lat, lon = COUNTRY_CENTRE if precision == "country" else REGION_CENTRES[region]
    spread = PRECISION_SPREAD[precision]
    return (round(lat + r.uniform(-spread, spread), 6),
            round(lon + r.uniform(-spread, spread), 6), precision)


def occurrence(rng, day: dt.date) -> tuple:
    """(occurred, earliest, latest) of an incident around `day`: the day itself (80%), its
    month (15%) or its year (5%), as EDTF with the days it spans."""
    precision = rng.random()
    if precision < 0.8:
        return day.isoformat(), day, day
    if precision < 0.95:
        first = day.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return f"{day:%Y-%m}", first, nxt - dt.timedelta(days=1)
    return str(day.year), dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)


CLAIM_STATUSES = ["unverified"] * 5 + ["in_review", "corroborated", "disputed", "confirmed",
                                       "false", "unverifiable"]
CITATION_RELATIONS = ["reports"] * 6 + ["confirms", "confirms", "denies",
                                        "declined_to_comment"]


def incident_row(rng, text, now, seed, incident_id, case_id, user_ids, type_ids) -> tuple:
    """One cases_incident row (INCIDENT_COLUMNS), placed and dated like every generated one."""
    russian = rng.random() < 0.5
    day = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 1400))
    occurred, earliest, latest = occurrence(rng, day)
    involved = rng.randint(1, 40)
    detained = rng.randint(0, involved)
    title = text.title(russian)
    description = text.sentence(russian, rng.choice(OUTLETS))
    place, region = text.place(russian), rng.choice(REGIONS)
    return (incident_id, now, now, title, description, occurred, earliest, latest, place,
            region, "RU", *incident_location(seed, incident_id, region), involved, detained,
            None, None, None, involved - detained, case_id, rng.choice(user_ids),
            rng.choice(type_ids))


def claim_row(rng, text, now, claim_id, case_id, user_ids, incident) -> tuple:
    """One cases_claim row (CLAIM_COLUMNS); `incident()` picks its incident id or None, and
    is called last, so the random sequence is the same whatever it draws."""
    russian = rng.random() < 0.5
    created = now - dt.timedelta(minutes=rng.randint(0, 900 * 24 * 60))
    has_figure = rng.random() < 0.3
    statement = text.sentence(russian, rng.choice(OUTLETS))
    value = rng.randint(1, 5000) if has_figure else None
    return (claim_id, created, created, statement, value,
            FIGURE_UNITS[value % len(FIGURE_UNITS)] if has_figure else "",
            rng.choice(["exactly", "at_least", "about", "nearly"]),
            rng.choice("123456"), rng.choice(CLAIM_STATUSES), "", case_id,
            rng.choice(user_ids), None, incident())


def write_status_events(cur, claim_ids: range, actor_id: int) -> int:
    """The verification events the statuses of the claims `claim_ids` imply: for each claim
    that is not unverified, the transition from unverified to its status by `actor_id`, at
    the claim's creation. Returns how many were written."""
    cur.execute(
        "INSERT INTO cases_verificationevent (claim_id, kind, from_status, to_status, "
        "proposed_verdict, actor_id, note, override_reason, created_at) "
        "SELECT id, 'transition', 'unverified', status, '', %s, '', '', created_at "
        "FROM cases_claim WHERE id >= %s AND id < %s AND status <> 'unverified' ORDER BY id",
        [actor_id, claim_ids.start, claim_ids.stop])
    return cur.rowcount


def counts_for(scale: float) -> dict[str, int]:
    counts = {k: max(1, round(v * scale)) for k, v in DEFAULT_COUNTS.items()}
    counts["users"] = max(3, counts["users"])
    return counts


def _spread(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` split into `parts` uneven shares (0.3×–1.7× the mean), summing exactly."""
    weights = [rng.uniform(0.3, 1.7) for _ in range(parts)]
    scale = total / sum(weights)
    shares = [int(w * scale) for w in weights]
    for i in range(total - sum(shares)):
        shares[i % parts] += 1
    return shares


def _ranges(shares: list[int], start: int = 1) -> list[tuple[int, int]]:
    out, next_id = [], start
    for n in shares:
        out.append((next_id, next_id + n))
        next_id += n
    return out


def _model_defaults(table: str, columns: list[str]) -> tuple[list[str], tuple]:
    """The columns of `table` that its Django model requires and `columns` leaves out, with
    the model's defaults for them (an empty text for text fields without one): a field added
    by a later migration with a default in Python only (Django's usual) is NOT NULL without a
    default in the database, and COPY would refuse rows without it. None when Django is not
    set up."""
    from django.apps import apps
    from django.db.models import NOT_PROVIDED

    if not apps.ready:
        return [], ()
    model = next((m for m in apps.get_models() if m._meta.db_table == table), None)
    if model is None:
        return [], ()
    fields = [f for f in model._meta.concrete_fields
              if f.column not in columns and not f.null and f.db_default is NOT_PROVIDED
              and (f.has_default() or f.empty_strings_allowed)]  # "" for text
    return [f.column for f in fields], tuple(f.get_default() for f in fields)


def _copy(cur, table: str, columns: list[str], rows, progress=None) -> int:
    n = 0
    more, defaults = _model_defaults(table, columns)
    with cur.copy(f"COPY {table} ({', '.join([*columns, *more])}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((*row, *defaults) if more else row)
            n += 1
            if progress is not None and n % 10_000 == 0:
                progress.update(10_000)
    if progress is not None:
        progress.update(n % 10_000)
    return n


def _django(database_url: str):
    """Django's settings, for the password hash and the identities' encryption."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    """Create the database named in the URL if it does not exist yet."""
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(database_url)
    name = params.get("dbname")
    with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}),
                         autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def reset(conn) -> None:
    """Empty the generated tables (and everything referring to them, history included, as
    the documented history maintenance: see cases/history.py)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT set_config('casedesk.history_maintenance', 'on', true)")
        cur.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


def _plain_indexes(cur, tables: list[str]) -> list[tuple[str, str]]:
    cur.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                             WHERE c.conname = i.indexname)""", [tables])
    return cur.fetchall()


def generate(database_url: str, *, scale: float = 1.0, seed: int = 1, reset_first: bool = False,
             progress: bool = True, vacuum: bool = True, log=print) -> Summary:
    started = time.perf_counter()
    _django(database_url)
    from django.contrib.auth.hashers import make_password

    from cases import crypto

    counts = counts_for(scale)
    rng = random.Random(seed)
    text = TextMaker(random.Random(seed + 1))
    now = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        progress = False

    def bar(total, desc):
        return tqdm(total=total, desc=desc, unit="rows", unit_scale=True,
                    disable=not progress, file=sys.stderr)

    with psycopg.connect(database_url, autocommit=True) as conn:
        if reset_first:
            reset(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM cases_case) + (SELECT count(*) FROM "
                        "auth_user WHERE username LIKE 'bench\\_%%')")
            if cur.fetchone()[0]:
                raise SystemExit("The database already holds cases: use --reset to empty it.")
            cur.execute("SELECT coalesce(max(id), 0) FROM auth_user")
            user_base = cur.fetchone()[0]
            cur.execute("SELECT coalesce(max(id), 0) FROM cases_incidenttype")
            type_base = cur.fetchone()[0]

        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
            dropped = _plain_indexes(cur, BIG_TABLES)
            for name, _ in dropped:
                cur.execute(f'DROP INDEX "{name}"')

            # Users: the chief editor belongs to every case; the others to a few dozen.
            password = make_password(BENCH_PASSWORD)
            usernames = ["bench_chief"] + [f"bench_user_{i:03d}" for i in range(1, counts["users"])]
            user_ids = list(range(user_base + 1, user_base + 1 + len(usernames)))
            _copy(cur, "auth_user", ["id", "password", "is_superuser", "username", "first_name",
                                     "last_name", "email", "is_staff", "is_active",
                                     "date_joined"],
                  ((uid, password, False, name, name.split("_")[-1].title(), "Bench",
                    f"{name}@bench.example", False, True, now)
                   for uid, name in zip(user_ids, usernames, strict=True)))

            types = ["Desertion", "Detention", "Court hearing", "Shelling", "Drone attack",
                     "Mobilisation", "Protest"]
            type_ids = list(range(type_base + 1, type_base + 1 + len(types)))
            _copy(cur, "cases_incidenttype", ["id", "name", "slug", "description"],
                  ((tid, f"{name} (bench)", f"bench-{name.lower().replace(' ', '-')}", "")
                   for tid, name in zip(type_ids, types, strict=True)))

            n_cases = counts["cases"]
            case_ids = list(range(1, n_cases + 1))
            _copy(cur, "cases_case", ["id", "created_at", "updated_at", "title", "slug",
                                      "summary", "status", "sensitivity", "created_by_id",
                                      "lead_id"],
                  ((cid, now - dt.timedelta(days=rng.randint(1, 900)), now,
                    f"{text.title(cid % 3 == 0)} ({cid})", f"bench-case-{cid}",
                    text.sentence(cid % 3 == 0, rng.choice(OUTLETS)),
                    rng.choice(["active", "active", "monitoring", "published", "closed"]),
                    rng.choice(["normal", "normal", "sensitive", "restricted"]),
                    user_ids[0], rng.choice(user_ids))
                   for cid in case_ids))

            def memberships():
                mid = 0
                for cid in case_ids:
                    members = {user_ids[0]} | set(rng.sample(user_ids[1:], k=min(
                        len(user_ids) - 1, rng.randint(2, 6))))
                    for uid in sorted(members):
                        mid += 1
                        role = "editor" if uid == user_ids[0] else rng.choice(
                            ["viewer", "reporter", "reporter", "editor"])
                        yield (mid, role, uid == user_ids[0], now, user_ids[0], cid, uid)
            _copy(cur, "cases_membership", ["id", "role", "can_handle_sources", "added_at",
                                            "added_by_id", "case_id", "user_id"], memberships())

            source_ranges = _ranges(_spread(counts["sources"], n_cases, rng))
            incident_ranges = _ranges(_spread(counts["incidents"], n_cases, rng))
            claim_ranges = _ranges(_spread(counts["claims"], n_cases, rng))
            citation_shares = _spread(counts["citations"], n_cases, rng)

            protected_ids: list[int] = []

            def sources():
                for cid, (lo, hi) in zip(case_ids, source_ranges, strict=True):
                    for sid in range(lo, hi):
                        if rng.random() < 0.1:
                            protected_ids.append(sid)
                            name = f"{rng.choice(CODENAME_WORDS)}-{sid}"
                            yield (sid, now, now, name, "person", "", "ru", "RU",
                                   rng.choice("BCDF"), "", True, cid, user_ids[0], None)
                        else:
                            outlet = OUTLETS[(sid - lo) % len(OUTLETS)]
                            name = outlet if sid - lo < len(OUTLETS) else f"{outlet} #{sid}"
                            url = f"https://{outlet.lower().replace(' ', '')}.example/"
                            yield (sid, now, now, name, "outlet", url,
                                   rng.choice(["ru", "en"]), "RU", rng.choice("ABCDEF"),
                                   "Track record in earlier cases.", False, cid, user_ids[0],
                                   None)
            with bar(counts["sources"], "sources") as b:
                _copy(cur, "cases_source", ["id", "created_at", "updated_at", "name", "kind",
                                            "url", "language", "country", "reliability",
                                            "reliability_note", "protected", "case_id",
                                            "created_by_id", "reached_via_id"], sources(), b)
            # Identities exist to prove that search never finds them: their names are words
            # that appear nowhere else ("Zhelobtsova").
            # Their address is empty: every non-NULL cell of an encrypted column is a token
            # (cases/crypto.py), the empty value's included.
            _copy(cur, "cases_sourceidentity", ["id", "real_name", "address", "contact",
                                                "private_notes", "source_id"],
                  ((i, crypto.encrypt(f"Zhelobtsova Irina {sid}"), crypto.encrypt(""),
                    crypto.encrypt(f"+7 900 {sid:07d}"), crypto.encrypt("Met in Taganrog."),
                    sid) for i, sid in enumerate(protected_ids, start=1)))

            def incidents():
                for cid, (lo, hi) in zip(case_ids, incident_ranges, strict=True):
                    for iid in range(lo, hi):
                        yield incident_row(rng, text, now, seed, iid, cid, user_ids, type_ids)
            with bar(counts["incidents"], "incidents") as b:
                _copy(cur, "cases_incident", INCIDENT_COLUMNS, incidents(), b)

            def claims():
                for cid, (lo, hi), (ilo, ihi) in zip(case_ids, claim_ranges, incident_ranges,
                                                     strict=True):
                    def incident(ilo=ilo, ihi=ihi):
                        return (rng.randrange(ilo, ihi) if ihi > ilo and rng.random() < 0.8
                                else None)
                    for kid in range(lo, hi):
                        yield claim_row(rng, text, now, kid, cid, user_ids, incident)
            with bar(counts["claims"], "claims") as b:
                _copy(cur, "cases_claim", CLAIM_COLUMNS, claims(), b)
            events = write_status_events(
                cur, range(claim_ranges[0][0], claim_ranges[-1][1]), user_ids[0])
            log(f"{events:,} verification events for the claims' statuses")

            relations = CITATION_RELATIONS
            # A citation whose source or relay is protected keeps its address encrypted
            # (migration 0010, Citation.protected_url), never in `url`: these have none.
            protected = set(protected_ids)
            # Relays are drawn from a random sequence of their own: the rest of the data is
            # the same as before citations had them. Their rows are COPYed after the
            # citations'.
            relay_rng = random.Random(seed * 7_000_003 + 1)
            relay_rows: list[tuple] = []

            def relays_of(cit_id, source, slo, shi) -> list[int]:
                draw = relay_rng.random()
                count = next((n for share, n in RELAY_SHARES if draw < share), 0)
                if count == 0 or shi - slo < count + 1:
                    return []
                chosen: list[int] = []
                while len(chosen) < count:
                    relay = relay_rng.randrange(slo, shi)
                    if relay != source and relay not in chosen:
                        chosen.append(relay)
                for position, relay in enumerate(chosen):
                    relay_rows.append((len(relay_rows) + 1, position, cit_id, relay))
                return chosen

            def citations():
                cit_id = 0
                for _case_id, share, (klo, khi), (ilo, ihi), (slo, shi) in zip(
                        case_ids, citation_shares, claim_ranges, incident_ranges, source_ranges,
                        strict=True):
                    for _ in range(share):
                        cit_id += 1
                        russian = rng.random() < 0.5
                        source = rng.randrange(slo, shi)
                        on_claim = khi > klo and (rng.random() < 0.9 or ihi == ilo)
                        published = now - dt.timedelta(minutes=rng.randint(0, 900 * 24 * 60))
                        relays = relays_of(cit_id, source, slo, shi)
                        sealed = source in protected or not protected.isdisjoint(relays)
                        yield (cit_id, published, published, rng.choice(relations),
                               text.sentence(russian, OUTLETS[cit_id % len(OUTLETS)]),
                               "" if sealed else f"https://news.example/{cit_id}",
                               published, published,
                               "ru" if russian else "en", None,
                               rng.randrange(klo, khi) if on_claim else None,
                               None if on_claim else rng.randrange(ilo, ihi), source)
            with bar(counts["citations"], "citations") as b:
                _copy(cur, "cases_citation", CITATION_COLUMNS, citations(), b)
            _copy(cur, "cases_citationrelay", RELAY_COLUMNS, relay_rows)
            log(f"{len(relay_rows):,} relays of the citations")

            log(f"rebuilding {len(dropped)} indexes…")
            for name, definition in dropped:
                t = time.perf_counter()
                cur.execute(definition)
                if progress:
                    log(f"  {name}: {time.perf_counter() - t:.1f} s")

            for table in TABLES:
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")

        if vacuum:
            log("vacuum analyze…")
            with conn.cursor() as cur:
                for table in TABLES:
                    cur.execute(f"VACUUM ANALYZE {table}")

    return Summary(counts=counts, seconds=time.perf_counter() - started,
                   chief_username=usernames[0], usernames=usernames)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies every default count (1.0: 1M claims)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a PostgreSQL URL (default: $DATABASE_URL)")
    parser.add_argument("--migrate", action="store_true", help="run manage.py migrate first")
    parser.add_argument("--reset", action="store_true",
                        help="empty the generated tables first (deletes their data!)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be a PostgreSQL URL")
    if args.migrate:
        import subprocess

        ensure_database(args.database_url)

        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
                       check=True, env={**os.environ, "DATABASE_URL": args.database_url})
    summary = generate(args.database_url, scale=args.scale, seed=args.seed,
                       reset_first=args.reset, progress=not args.quiet)
    counts = ", ".join(f"{v:,} {k}" for k, v in summary.counts.items())
    print(f"generated {counts} in {summary.seconds:.0f} s (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
