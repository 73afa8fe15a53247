"""Findings as SARIF 2.1.0, the format code-scanning tools (GitHub, GitLab, IDEs) read.

One run, tool ``Ghost``; one rule per check that has findings (its title, remediation and
CWE); one result per finding, located at the URL of the flow that showed it, with the
dedupe key as a partial fingerprint so a tool recognises the same finding across uploads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
LEVELS = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub ranks results by this property (0.1-10): critical >= 9, high >= 7, medium >= 4.
SECURITY_SEVERITY = {"high": "8.0", "medium": "5.0", "low": "3.0", "info": "1.0"}


def location_uri(url: str) -> str:
    """The URL without its query and fragment (they may hold the very secret found)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "about:invalid"
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def fingerprint(finding: Mapping[str, Any]) -> str:
    key = "\x1f".join((finding["check"], finding["host"], finding["method"], finding["path"]))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def rule(check: str, finding: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": check,
        "name": "".join(part.capitalize() for part in check.split("-")),
        "shortDescription": {"text": finding["title"]},
        "help": {"text": finding["remediation"]},
        "defaultConfiguration": {"level": LEVELS[finding["severity"]]},
        "properties": {"tags": ["security"], "security-severity": SECURITY_SEVERITY[finding["severity"]],
                       "precision": {"high": "high", "medium": "medium", "low": "low"}[finding["confidence"]]},
    }
    if finding.get("cwe"):
        out["properties"]["tags"].append(f"external/cwe/cwe-{finding['cwe']}")
    return out


def result(finding: Mapping[str, Any], rule_index: int) -> dict[str, Any]:
    evidence = finding["evidence"]
    where = "site-wide" if finding["scope"] == "site" else f"{finding['method']} {finding['path']}"
    count = f" ({finding['count']} endpoints)" if finding["scope"] == "site" and finding["count"] > 1 else ""
    return {
        "ruleId": finding["check"],
        "ruleIndex": rule_index,
        "level": LEVELS[finding["severity"]],
        "message": {"text": f"{finding['title']} on {finding['host']} {where}{count}: "
                            f"{evidence['where']}: {evidence['snippet']}"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": location_uri(evidence["url"])}}}],
        "partialFingerprints": {"ghostFinding/v1": fingerprint(finding)},
        "properties": {"ghost_finding_id": finding["id"], "flow_id": evidence["flow_id"],
                       "session_id": finding["session_id"], "count": finding["count"],
                       "occurrences": finding["occurrences"], "confidence": finding["confidence"]},
    }


def sarif_log(findings: Sequence[Mapping[str, Any]], version: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for finding in findings:
        check = finding["check"]
        if check not in index:
            index[check] = len(rules)
            rules.append(rule(check, finding))
        results.append(result(finding, index[check]))
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "Ghost", "version": version,
                                "rules": rules}},
            "results": results,
        }],
    }
