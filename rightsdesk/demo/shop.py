"""The demo shop's own database: the host application whose data the demo's requests are about.

A small Korean shop (users, orders, payments, access logs, support tickets, marketing
consents), described by ``demo_datamap.toml``. The data is made up and deterministic for a
seed; the subjects of rightsdesk's own demo (``services.demo.SAMPLES``) are among the users,
each with rows in every table, so a demo request has something to find. Phones are random,
distinct 010 numbers (Korea reserves no fictional range: a match with a real line is chance);
e-mail addresses are on example.com/example.net (RFC 2606), IP addresses in the documentation
ranges (RFC 5737). Rows go in by executemany, a thousand users at a time: 100,000 users (about
a million rows) take some 10 s on SQLite and 25 s on PostgreSQL.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources

from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)

from rightsdesk.demo.samples import SAMPLES
from rightsdesk.systems.connect import engine_for

DEMO_DATAMAP = "demo_datamap.toml"
# The shop's data is as of this instant, whenever it is created: the same seed, the same rows.
AS_OF = datetime(2025, 9, 1, 3, 0, tzinfo=UTC)
BATCH_USERS = 1000

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(255), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("phone", String(20)),
    Column("birth_date", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The last sign-in: what the demo's dormancy policy (demo_retention.toml) counts from.
    Column("last_login_at", DateTime(timezone=True)),
)
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("total", Integer, nullable=False),  # won
    Column("address", String(255)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, index=True),
    Column("card_last4", String(4)),
    Column("amount", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
access_logs = Table(
    "access_logs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("ip", String(45), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)
support_tickets = Table(
    "support_tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
marketing_consents = Table(
    "marketing_consents",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("channel", String(10), primary_key=True),
    Column("granted_at", DateTime(timezone=True), nullable=False),
)

TABLES = (users, orders, payments, access_logs, support_tickets, marketing_consents)
WITH_ID = (users, orders, payments, access_logs, support_tickets)

# (Hangul, romanised) so that e-mail addresses look like the names.
SURNAMES = (
    ("김", "kim"),
    ("이", "lee"),
    ("박", "park"),
    ("최", "choi"),
    ("정", "jung"),
    ("강", "kang"),
    ("조", "cho"),
    ("윤", "yoon"),
    ("장", "jang"),
    ("임", "lim"),
    ("한", "han"),
    ("오", "oh"),
    ("서", "seo"),
    ("신", "shin"),
    ("권", "kwon"),
)
GIVEN_NAMES = (
    ("민준", "minjun"),
    ("서준", "seojun"),
    ("도윤", "doyoon"),
    ("예준", "yejun"),
    ("시우", "siwoo"),
    ("하준", "hajun"),
    ("지호", "jiho"),
    ("주원", "juwon"),
    ("서연", "seoyeon"),
    ("서윤", "seoyoon"),
    ("지우", "jiwoo"),
    ("하은", "haeun"),
    ("민서", "minseo"),
    ("윤서", "yoonseo"),
    ("채원", "chaewon"),
    ("수아", "sua"),
)
ADDRESSES = (
    "서울특별시 강남구 테헤란로",
    "서울특별시 마포구 월드컵북로",
    "서울특별시 송파구 올림픽로",
    "서울특별시 종로구 세종대로",
    "서울특별시 관악구 관악로",
    "부산광역시 해운대구 센텀중앙로",
    "부산광역시 수영구 광안해변로",
    "부산광역시 부산진구 중앙대로",
    "부산광역시 동래구 충렬대로",
)
IP_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.")  # RFC 5737: documentation only
CHANNELS = ("email", "sms", "push")
TICKETS = (
    "주문한 상품이 아직 도착하지 않았습니다. 배송 조회 부탁드립니다.",
    "결제가 두 번 된 것 같습니다. 확인해 주세요.",
    "회원 정보의 전화번호를 바꾸고 싶습니다.",
    "받은 상품이 파손되어 교환을 신청합니다.",
    "마케팅 문자를 그만 받고 싶습니다.",
    "환불은 언제 처리되나요?",
)
# A child of rightsdesk's demo (a legal guardian acts for them): under 14 on AS_OF.
CHILD_BIRTH_DATE = date(2014, 3, 15)
# A demo subject who has not signed in for over a year: dormancy tells, separates, restores them.
DORMANT_SUBJECT = "dongmin.yoon@example.com"


class DemoShopExists(ValueError):
    """The target database has the demo shop's tables already; nothing is overwritten."""


@dataclass(frozen=True)
class DemoSubject:
    email: str
    name: str | None


def demo_subjects() -> list[DemoSubject]:
    """The data subjects of rightsdesk's own demo, in its order, each once."""
    seen: dict[str, DemoSubject] = {}
    for sample in SAMPLES:
        email, name = sample[3], sample[4]
        seen.setdefault(email, DemoSubject(email, name))
    return list(seen.values())


def demo_datamap_text() -> str:
    """The data map describing the demo shop (TOML)."""
    return resources.files(__package__).joinpath(DEMO_DATAMAP).read_text(encoding="utf-8")


def create_demo_shop(
    url: str,
    *,
    users: int = 50,
    seed: int = 42,
    logs_until: datetime | None = None,
    bench_volumes: bool = False,
) -> None:
    """Create the demo shop's six tables at ``url`` and fill them for ``users`` users.

    The demo subjects are the first users, so ``users`` must count at least them. Refuses a
    database that has any of the tables already (:class:`DemoShopExists`). On PostgreSQL it
    is one transaction; the id sequences are moved past the rows it inserts.

    Access logs cover the half year up to ``logs_until`` (default: the start of today, UTC), so
    some are always past the three months 통신비밀보호법 asks them kept and some are not, and
    the retention jobs have something to show whenever the demo is made.

    ``bench_volumes`` draws the fulfilment benchmark's volumes instead of the demo's: about 5
    orders (each with its payment) and 20 access-log rows per user.
    """
    subjects = _enough_subjects(users)
    engine = engine_for(url)
    try:
        _fill(engine, users, subjects, seed, logs_until, bench_volumes)
    finally:
        engine.dispose()


def _enough_subjects(users: int) -> list[DemoSubject]:
    """The demo subjects, who are the shop's first users."""
    subjects = demo_subjects()
    if users < len(subjects):
        raise ValueError(f"the demo shop needs at least {len(subjects)} users (its demo subjects)")
    return subjects


def _fill(
    engine: Engine,
    users: int,
    subjects: list[DemoSubject],
    seed: int,
    logs_until: datetime | None,
    bench: bool,
) -> None:
    """One transaction: refuse tables that exist, create them, insert the rows batch by batch."""
    with engine.begin() as connection:
        _refuse_existing(connection)
        metadata.create_all(connection)
        until = logs_until or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        shop = _ShopData(random.Random(seed), users, subjects, logs_until=until, bench=bench)
        for batch in shop.batches():
            for table in TABLES:
                if batch[table.name]:
                    connection.execute(table.insert(), batch[table.name])
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection)


def _refuse_existing(connection: Connection) -> None:
    present = sorted(set(inspect(connection).get_table_names()) & {t.name for t in TABLES})
    if present:
        raise DemoShopExists(
            f"the database has the demo shop's tables already ({', '.join(present)}); "
            "give an empty database"
        )


def _advance_sequences(connection: Connection) -> None:
    """Explicit ids leave PostgreSQL's sequences at 1: move them past the rows."""
    for table in WITH_ID:
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE(MAX(id), 0) + 1, false) FROM {table.name}"
            )
        )


Row = dict[str, object]
Batch = dict[str, list[Row]]


@dataclass
class _ShopData:
    """Rows, a batch of users at a time, drawn from one random generator in a fixed order."""

    rng: random.Random
    users: int
    subjects: list[DemoSubject]
    logs_until: datetime = AS_OF
    bench: bool = False
    next_id: dict[str, int] = field(default_factory=dict)

    def batches(self) -> Iterator[Batch]:
        # Distinct 010 numbers for everyone, drawn once: phone is an identity of the map.
        phones = self.rng.sample(range(20_000_000, 100_000_000), self.users)
        for start in range(0, self.users, BATCH_USERS):
            batch: Batch = {t.name: [] for t in TABLES}
            for index in range(start, min(start + BATCH_USERS, self.users)):
                self._user(index, phones[index], batch)
            yield batch

    def _id(self, table: str) -> int:
        self.next_id[table] = self.next_id.get(table, 0) + 1
        return self.next_id[table]

    def _user(self, index: int, phone: int, batch: Batch) -> None:
        user_id = self._id("users")
        subject = self.subjects[index] if index < len(self.subjects) else None
        row, created = self._user_row(user_id, subject, phone)
        batch["users"].append(row)
        demo = subject is not None  # demo subjects have rows in every table
        self._orders(user_id, created, demo, batch)
        self._access_logs(user_id, demo, batch)
        self._tickets(user_id, created, demo, batch)
        self._consents(user_id, created, demo, batch)

    def _user_row(
        self, user_id: int, subject: DemoSubject | None, phone: int
    ) -> tuple[Row, datetime]:
        """The user's row (a demo subject keeps their name and e-mail), and when they joined."""
        rng = self.rng
        surname, given = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
        name = (subject and subject.name) or surname[0] + given[0]
        email = subject.email if subject else f"{given[1]}.{surname[1]}{user_id}@example.net"
        created = AS_OF - timedelta(days=rng.randint(30, 6 * 365), seconds=rng.randrange(86_400))
        if subject and subject.email.startswith("child."):
            born = CHILD_BIRTH_DATE
        else:
            born = date(1960, 1, 1) + timedelta(days=rng.randrange(42 * 365))
        row = {
            "id": user_id,
            "email": email,
            "name": name,
            "phone": f"010-{phone // 10_000:04d}-{phone % 10_000:04d}",
            "birth_date": born,
            "created_at": created,
            "last_login_at": self._last_login(user_id, subject),
        }
        return row, created

    def _last_login(self, user_id: int, subject: DemoSubject | None) -> datetime:
        """Recent for most (within two months of ``logs_until``); more than a year back for
        :data:`DORMANT_SUBJECT` and every tenth other user, so the demo's dormancy policy has
        accounts to tell and separate. Drawn from the id, not the generator: adding the column
        changed no other row."""
        dormant = (subject is not None and subject.email == DORMANT_SUBJECT) or (
            subject is None and user_id % 10 == 0
        )
        days = 400 + user_id % 200 if dormant else user_id % 60
        return self.logs_until - timedelta(days=days, minutes=user_id % 1440)

    def _after(self, start: datetime) -> datetime:
        return (start + (AS_OF - start) * self.rng.random()).replace(microsecond=0)

    def _orders(self, user_id: int, since: datetime, demo: bool, batch: Batch) -> None:
        rng = self.rng
        if self.bench:
            count = rng.randint(3, 7)
        else:
            count = rng.choices(range(6), weights=(20, 30, 20, 15, 10, 5))[0]
        for _ in range(max(count, 2 if demo else 0)):
            self._order(user_id, since, batch)

    def _order(self, user_id: int, since: datetime, batch: Batch) -> None:
        """An order and its payment."""
        rng = self.rng
        order_id, placed = self._id("orders"), self._after(since)
        total = rng.randrange(50, 5_000) * 100
        address = self._address()
        batch["orders"].append(
            {
                "id": order_id,
                "user_id": user_id,
                "total": total,
                "address": address,
                "created_at": placed,
            }
        )
        batch["payments"].append(
            {
                "id": self._id("payments"),
                "order_id": order_id,
                "card_last4": f"{rng.randrange(10_000):04d}",
                "amount": total,
                "created_at": placed + timedelta(seconds=rng.randint(5, 300)),
            }
        )

    def _address(self) -> str:
        rng = self.rng
        return (
            f"{rng.choice(ADDRESSES)} {rng.randint(1, 300)}, "
            f"{rng.randint(101, 120)}동 {rng.randint(1, 25)}{rng.randint(1, 4):02d}호"
        )

    def _access_logs(self, user_id: int, demo: bool, batch: Batch) -> None:
        rng = self.rng
        # Half a year back: some are past the three months 통신비밀보호법 asks them kept.
        count = rng.randint(10, 30) if self.bench else rng.randint(0, 8)
        for _ in range(max(count, 3 if demo else 0)):
            batch["access_logs"].append(
                {
                    "id": self._id("access_logs"),
                    "user_id": user_id,
                    "ip": rng.choice(IP_PREFIXES) + str(rng.randint(1, 254)),
                    "at": self.logs_until - timedelta(seconds=rng.randrange(183 * 86_400)),
                }
            )

    def _tickets(self, user_id: int, since: datetime, demo: bool, batch: Batch) -> None:
        rng = self.rng
        if rng.random() < 0.1 or demo:
            batch["support_tickets"].append(
                {
                    "id": self._id("support_tickets"),
                    "user_id": user_id,
                    "body": rng.choice(TICKETS),
                    "created_at": self._after(since),
                }
            )

    def _consents(self, user_id: int, since: datetime, demo: bool, batch: Batch) -> None:
        rng = self.rng
        if rng.random() < 0.4 or demo:
            for channel in sorted(rng.sample(CHANNELS, rng.randint(1, len(CHANNELS)))):
                batch["marketing_consents"].append(
                    {"user_id": user_id, "channel": channel, "granted_at": self._after(since)}
                )
