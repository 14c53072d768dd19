"""The Public Suffix List, loaded once and only when first asked for.

Parsing the list as the package ships it (ICANN and private sections) takes about 0.2 s of
CPU; most processes never need it (a bot that blocks no domain and posts no alert evidence),
so it is not read at start-up.
"""

from __future__ import annotations

from functools import cache

from publicsuffixlist import PublicSuffixList


@cache
def public_suffixes() -> PublicSuffixList:
    """The list: `is_public("co.uk")`, `privatesuffix("login.evil.co.uk")`."""
    return PublicSuffixList()
