"""Analysers for AIAnalysis: pick a workflow for an enriched signal.

:class:`Analyser` is the interface; built in are :class:`CatalogAnalyser`
(a workflow catalog matched on the signal) and :class:`HttpAnalyser` (an
external investigation service; request and response schemas in
``docs/analysers.md``).
"""

from reconciler.analysers.base import (
    Analyser,
    AnalysisFailure,
    AnalysisOutcome,
    AnalysisRequest,
    AnalysisResult,
)
from reconciler.analysers.catalog import (
    Catalog,
    CatalogAnalyser,
    CatalogEntry,
    CatalogError,
    CatalogFile,
    load_catalog,
    parse_catalog,
)
from reconciler.analysers.http_analyser import HttpAnalyser

__all__ = [
    "Analyser",
    "AnalysisFailure",
    "AnalysisOutcome",
    "AnalysisRequest",
    "AnalysisResult",
    "Catalog",
    "CatalogAnalyser",
    "CatalogEntry",
    "CatalogError",
    "CatalogFile",
    "HttpAnalyser",
    "load_catalog",
    "parse_catalog",
]
