"""Product search: the user query language, its compilation per dialect, and the listing query.

One parser serves both databases so a query means the same on SQLite and PostgreSQL:

* words must all match (``red shirt``); punctuation splits words (``t-shirt`` is a phrase);
* ``"exact phrase"``; ``a OR b`` (binds tighter than the implicit AND); ``-word`` excludes;
* the last word is matched as a prefix (search as you type).

Only runs of letters and digits ever reach the database, each quoted, so no input can
inject FTS5 or tsquery syntax: ``"``, ``AND (`` or ``NEAR(`` simply become words or nothing.

SQLite compiles to an FTS5 ``MATCH`` ranked by ``bm25`` (table ``product_search``, kept in
sync by the service); PostgreSQL compiles to ``to_tsquery('simple', …)`` over the generated
``products.search_vector`` column (GIN index) ranked by ``ts_rank``. Both use no stemming,
so results agree across databases.

Pagination is keyset on ``(sort key, id)`` for every sort; for relevance the key is
``(rank, id)`` with rank ascending (bm25 is negative-better; PostgreSQL uses ``-ts_rank``
as a double, which round-trips exactly through the JSON cursor). Cursors are signed and
bound to the query's signature, so they cannot be replayed against another query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    Uuid,
    and_,
    cast,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from plaza.catalog.models import (
    Category,
    Product,
    ProductStatus,
    ProductTag,
    Variant,
    VariantPrice,
    VariantStatus,
)
from plaza.catalog.schemas import SortOrder
from plaza.errors import INVALID_CURSOR, ProblemError
from plaza.identity.models import Merchant
from plaza.money import MAX_AMOUNT
from plaza.pagination import decode_cursor, encode_cursor

WORD = re.compile(r"[^\W_]+")
MAX_ATOMS = 16
MAX_WORD = 64

P = Product.__table__
V = Variant.__table__
VP = VariantPrice.__table__
C = Category.__table__
PT = ProductTag.__table__

# The SQLite full-text tables (migration 0002); Core handles so UUIDs bind like products.id.
FTS = table("product_search", column("rowid", Integer))
FTS_KEYS = table("product_search_keys", column("rowid", Integer), column("product_id", Uuid()))
# bm25 column weights: title, brand, tags, skus, description.
BM25_WEIGHTS = (10.0, 5.0, 4.0, 8.0, 1.0)


@dataclass(frozen=True)
class Atom:
    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class TextQuery:
    groups: tuple[tuple[Atom, ...], ...]  # AND of OR-groups
    excluded: tuple[Atom, ...] = ()

    def normalised(self) -> str:
        def atom(a: Atom) -> str:
            body = " ".join(a.words)
            body = f'"{body}"' if len(a.words) > 1 else body
            return body + ("*" if a.prefix else "")

        parts = [" OR ".join(atom(a) for a in g) for g in self.groups]
        parts += ["-" + atom(a) for a in self.excluded]
        return " ".join(parts)

    def fts5(self) -> str:
        def atom(a: Atom) -> str:
            return '"' + " ".join(a.words) + '"' + ("*" if a.prefix else "")

        expr = " AND ".join(
            "(" + " OR ".join(atom(a) for a in g) + ")" if len(g) > 1 else atom(g[0])
            for g in self.groups
        )
        for a in self.excluded:
            expr = f"({expr}) NOT {atom(a)}"
        return expr

    def tsquery(self) -> str:
        def atom(a: Atom) -> str:
            words = [f"'{w}'" for w in a.words]
            if a.prefix:
                words[-1] += ":*"
            inner = " <-> ".join(words)
            return f"({inner})" if len(words) > 1 else inner

        expr = " & ".join(
            "(" + " | ".join(atom(a) for a in g) + ")" if len(g) > 1 else atom(g[0])
            for g in self.groups
        )
        for a in self.excluded:
            expr += f" & !{atom(a)}"
        return expr


_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


def parse_query(text: str | None) -> TextQuery | None:
    """Parse user input; ``None`` when it holds no searchable word (the filter is dropped)."""
    if not text:
        return None
    items: list[tuple[str, Atom | None, bool]] = []  # (kind, atom, quoted)
    count = 0
    for m in _TOKEN.finditer(text):
        if count >= MAX_ATOMS:
            break
        neg, phrase, bare = m.group(1), m.group(2), m.group(3)
        if bare is not None:
            if bare.lower() == "or":
                items.append(("or", None, False))
                continue
            neg = "-" if bare.startswith("-") and len(bare) > 1 else ""
            words = tuple(w[:MAX_WORD].lower() for w in WORD.findall(bare))
            quoted = False
        else:
            words = tuple(w[:MAX_WORD].lower() for w in WORD.findall(phrase or ""))
            quoted = True
        if not words:
            continue
        count += 1
        items.append(("neg" if neg else "pos", Atom(words), quoted))
    # The last positive unquoted atom is still being typed: match its last word as a prefix.
    for i in range(len(items) - 1, -1, -1):
        kind, a, quoted = items[i]
        if kind == "or":
            continue
        if kind == "pos" and a is not None and not quoted:
            items[i] = (kind, Atom(a.words, prefix=True), quoted)
        break
    groups: list[list[Atom]] = []
    excluded: list[Atom] = []
    join_next = False
    for kind, a, _ in items:
        if kind == "or":
            join_next = bool(groups)
            continue
        assert a is not None
        if kind == "neg":
            excluded.append(a)
            join_next = False
        elif join_next:
            groups[-1].append(a)
            join_next = False
        else:
            groups.append([a])
    if not groups:
        return None
    return TextQuery(tuple(tuple(g) for g in groups), tuple(excluded))


# ------------------------------------------------------------------ listing queries


@dataclass(frozen=True)
class ProductQuery:
    """A normalised listing request; equal queries share cache entries and cursors."""

    text: TextQuery | None = None
    merchant_id: uuid.UUID | None = None
    category: str | None = None  # an id or a slug; includes descendants
    brands: tuple[str, ...] = ()  # lower-cased, any of
    tags: tuple[str, ...] = ()  # all of
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()  # per name any of; names all of
    min_price: int | None = None
    max_price: int | None = None
    currency: str = "EUR"
    sort: SortOrder | None = None
    statuses: tuple[ProductStatus, ...] = (ProductStatus.ACTIVE,)
    public: bool = True  # storefront: only active merchants
    limit: int = 20
    cursor: str | None = field(default=None, compare=False)

    @property
    def effective_sort(self) -> SortOrder:
        if self.sort is None or self.sort == SortOrder.RELEVANCE:
            return SortOrder.RELEVANCE if self.text is not None else SortOrder.NEWEST
        return self.sort

    def signature(self) -> str:
        """Everything that shapes the result set and order (not the page size/cursor)."""
        parts: list[Any] = [
            self.text.normalised() if self.text else "",
            self.merchant_id,
            self.category,
            self.brands,
            self.tags,
            self.options,
            self.min_price,
            self.max_price,
            self.currency,
            self.effective_sort.value,
            tuple(s.value for s in self.statuses),
            self.public,
        ]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:24]

    def cache_key(self) -> tuple[str, int, str | None]:
        return (self.signature(), self.limit, self.cursor)


def active_merchant_ids() -> Select[Any]:
    """Merchants whose storefront is open (identity's flag, read-only here)."""
    return select(Merchant.id).where(Merchant.is_active)


def category_subtree(category: str) -> Select[Any]:
    """Ids of a category (by id or slug) and all its descendants (recursive CTE)."""
    try:
        anchor = C.c.id == uuid.UUID(category)
    except ValueError:
        anchor = C.c.slug == category
    tree = select(C.c.id).where(anchor).cte("category_tree", recursive=True)
    tree = tree.union_all(select(C.c.id).where(C.c.parent_id == tree.c.id))
    return select(tree.c.id)


def min_price_expr(currency: str) -> ColumnElement[Any]:
    return (
        select(func.min(VP.c.amount))
        .select_from(VP.join(V, V.c.id == VP.c.variant_id))
        .where(
            V.c.product_id == P.c.id,
            V.c.status == VariantStatus.ACTIVE,
            VP.c.currency == currency,
        )
        .scalar_subquery()
    )


@dataclass
class _Key:
    expr: ColumnElement[Any]
    desc: bool
    kind: str  # how a cursor value is decoded: float | int | str | datetime | uuid


def _keyset(keys: list[_Key], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys`` (lexicographic)."""
    clauses = []
    for i, key in enumerate(keys):
        eq = [keys[j].expr == values[j] for j in range(i)]
        cmp = key.expr < values[i] if key.desc else key.expr > values[i]
        clauses.append(and_(*eq, cmp))
    return or_(*clauses)


def _decode_value(kind: str, raw: Any) -> Any:
    if kind == "uuid":
        return uuid.UUID(str(raw))
    if kind == "datetime":
        value = dt.datetime.fromisoformat(str(raw))
        if value.tzinfo is None:
            raise ValueError("naive datetime in cursor")
        return value
    if kind == "float":
        if not isinstance(raw, int | float) or isinstance(raw, bool):
            raise ValueError("not a number")
        return float(raw)
    if kind == "int":
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ValueError("not an integer")
        return raw
    if not isinstance(raw, str):
        raise ValueError("not a string")
    return raw


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def build_listing(s: Session, query: ProductQuery, columns: list[Any]) -> tuple[Select[Any], int]:
    """The page query: ``columns`` plus the sort keys (labelled ``_k0``…); returns the
    statement and how many sort keys trail the selected columns."""
    dialect = s.get_bind().dialect.name
    stmt = select(*columns).select_from(P)
    conds: list[ColumnElement[bool]] = [P.c.status.in_(list(query.statuses))]
    if query.public:
        conds.append(P.c.merchant_id.in_(active_merchant_ids()))
    if query.merchant_id is not None:
        conds.append(P.c.merchant_id == query.merchant_id)
    if query.category is not None:
        conds.append(P.c.category_id.in_(category_subtree(query.category)))
    if query.brands:
        conds.append(func.lower(P.c.brand).in_(query.brands))
    for tag in query.tags:
        conds.append(P.c.id.in_(select(PT.c.product_id).where(PT.c.tag == tag)))
    variant_conds: list[ColumnElement[bool]] = []
    for name, values in query.options:
        variant_conds.append(V.c.option_values[name].as_string().in_(values))
    priced = query.min_price is not None or query.max_price is not None
    if variant_conds or priced:
        inner: Select[Any] = select(literal_column("1")).select_from(
            V.join(VP, and_(VP.c.variant_id == V.c.id, VP.c.currency == query.currency))
            if priced
            else V
        )
        inner = inner.where(
            V.c.product_id == P.c.id, V.c.status == VariantStatus.ACTIVE, *variant_conds
        )
        if query.min_price is not None:
            inner = inner.where(VP.c.amount >= query.min_price)
        if query.max_price is not None:
            inner = inner.where(VP.c.amount <= query.max_price)
        conds.append(exists(inner))

    rank: ColumnElement[Any] | None = None
    if query.text is not None:
        if dialect == "postgresql":
            vector: ColumnElement[Any] = literal_column("products.search_vector")
            tsq = func.to_tsquery(literal_column("'simple'::regconfig"), query.text.tsquery())
            conds.append(vector.op("@@")(tsq))
            rank = cast(-func.ts_rank(vector, tsq), Float(53))
        else:
            bm25 = func.bm25(literal_column("product_search"), *BM25_WEIGHTS)
            matched = (
                select(FTS_KEYS.c.product_id.label("pid"), bm25.label("rank"))
                .select_from(FTS.join(FTS_KEYS, FTS_KEYS.c.rowid == FTS.c.rowid))
                .where(literal_column("product_search").op("MATCH")(query.text.fts5()))
                .subquery("matched")
            )
            stmt = stmt.join(matched, matched.c.pid == P.c.id)
            rank = matched.c.rank

    sort = query.effective_sort
    if sort == SortOrder.RELEVANCE and rank is not None:
        keys = [_Key(rank, False, "float"), _Key(P.c.id, False, "uuid")]
    elif sort == SortOrder.TITLE:
        keys = [_Key(func.lower(P.c.title), False, "str"), _Key(P.c.id, False, "uuid")]
    elif sort == SortOrder.PRICE_ASC:
        price = func.coalesce(min_price_expr(query.currency), MAX_AMOUNT + 1)
        keys = [_Key(price, False, "int"), _Key(P.c.id, False, "uuid")]
    elif sort == SortOrder.PRICE_DESC:
        price = func.coalesce(min_price_expr(query.currency), -1)
        keys = [_Key(price, True, "int"), _Key(P.c.id, False, "uuid")]
    else:
        keys = [_Key(P.c.created_at, True, "datetime"), _Key(P.c.id, True, "uuid")]

    if query.cursor:
        raw = decode_cursor(_listing(query), query.cursor)
        try:
            if len(raw) != len(keys):
                raise ValueError("cursor shape")
            decoded = [_decode_value(k.kind, r) for k, r in zip(keys, raw, strict=True)]
        except (ValueError, TypeError) as exc:
            raise ProblemError(INVALID_CURSOR) from exc
        conds.append(_keyset(keys, decoded))

    stmt = stmt.add_columns(*(k.expr.label(f"_k{i}") for i, k in enumerate(keys)))
    stmt = stmt.where(*conds).order_by(*(k.expr.desc() if k.desc else k.expr for k in keys))
    return stmt.limit(query.limit + 1), len(keys)


def _listing(query: ProductQuery) -> str:
    return f"catalog:{query.signature()}"


def next_cursor(query: ProductQuery, rows: list[Any], nkeys: int) -> str | None:
    """The cursor after the last served row, if the query fetched one row beyond the page."""
    if len(rows) <= query.limit:
        return None
    last = rows[query.limit - 1]
    return encode_cursor(_listing(query), [_encode_value(v) for v in tuple(last)[-nkeys:]])
