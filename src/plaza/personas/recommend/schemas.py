"""Response shapes of recommendations and search (all inputs are bounded query
parameters, declared in ``api.py``)."""

from __future__ import annotations

import enum

from pydantic import BaseModel, Field

from plaza.catalog.schemas import StorefrontProductSummary


class ReasonKind(enum.StrEnum):
    HISTORY = "history"  # close to something the customer bought, carted or viewed
    SIMILAR_TASTE = "similar_taste"  # collaborative filtering: customers like them
    POPULAR = "popular"
    NEW = "new"
    PERSONA = "persona"  # the chosen persona's preferences match
    SIMILAR = "similar"
    BOUGHT_TOGETHER = "bought_together"


class Strategy(enum.StrEnum):
    BLEND = "blend"  # ALS + content similarity + popularity
    CONTENT = "content"  # not in the model yet: similarity to recent activity
    POPULAR = "popular"  # no activity, or no personalisation consent
    NEW = "new"  # nothing was bought anywhere yet


class Recommended(BaseModel):
    product: StorefrontProductSummary
    score: float = Field(description="Higher is better; comparable within one answer only.")
    reason_kind: ReasonKind
    reason: str = Field(description='Why, for people: "because you bought Rain Jacket".')
    reasons: list[str] = Field(description="Every reason that applies, the main one first.")


class ForYou(BaseModel):
    items: list[Recommended]
    strategy: Strategy
    persona_id: str | None = Field(description="The persona that filtered the answer, if any.")


class RelatedProducts(BaseModel):
    items: list[Recommended]


class MatchKind(enum.StrEnum):
    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    BOTH = "both"


class SearchHit(BaseModel):
    product: StorefrontProductSummary
    score: float = Field(description="Reciprocal rank fusion score.")
    matched: MatchKind
    keyword_rank: int | None
    semantic_rank: int | None


class SearchResults(BaseModel):
    items: list[SearchHit]
    mode: str


class PersonaProduct(BaseModel):
    product: StorefrontProductSummary
    score: float = Field(description="Base score plus the persona's bonus, best first.")
    matches_persona: bool = Field(
        description="The persona's preferences (colour, style, material…) gave it a bonus."
    )
