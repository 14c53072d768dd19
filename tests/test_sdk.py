"""The official `cloudflare` Python SDK (a test-only dependency, pinned in pyproject.toml's dev
extras) against the simulator: every method `client.email_security` has, found by
introspection, is called once. None may find no route (404 "No route", 405); the only refusal
allowed is the documented one: an operation past its end of life (the SDK 5.9.0 still has the
bulk `DELETE /settings/domains`).

The SDK is a second, independent client of the same API: where it and the simulator disagree
on a path or a method, the simulator is missing something the real API has (5.9.0 brought
content policies and the blocked senders' batch, which the vendored OpenAPI file lacks)."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterator
from typing import Any

import cloudflare
import pytest
from cloudflare._resource import SyncAPIResource

from bot.cloudflare.shapes import preview_body, release_body
from bot.simulator.errors import EOL_PARAMETER
from tests.kit.factories import add, quarantined_messages
from tests.kit.flows import calls_to
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, SimulatorProcess

# The order within one resource: what a later call needs (an id) comes from an earlier one.
ORDER = ("list", "create", "get", "edit", "update", "batch", "bulk", "delete", "bulk_delete")

# Required arguments by resource and name, else by name alone.
VALUES: dict[str, Any] = {
    "destination": "Inbox",
    "expected_disposition": "NONE",
    "block_senders.pattern": "sdk-blocked.example",
    "block_senders.pattern_type": "DOMAIN",
    "allow_policies.pattern": "sdk-allowed.example",
    "allow_policies.pattern_type": "DOMAIN",
    "trusted_domains.pattern": "sdk-trusted.example",
    "is_regex": False,
    "is_acceptable_sender": True,
    "is_exempt_recipient": False,
    "is_trusted_sender": False,
    "verify_sender": True,
    "is_recent": True,
    "is_similarity": True,
    "email": "sdk.executive@example.com",
    "is_email_regex": False,
    "name": "SDK Executive",
    "ip_restrictions": [],
    # Newer SDKs (5.x) have more methods; their arguments, so a version bump runs as it is.
    "action": "RELEASE",
    "search_params": {"sender": "m365-account-security.example"},
    "deletes": [],
    "patches": [],
    "puts": [],
    "posts": [],
    "domains.domain": "sdk-protected.example",
    "sending_domain_restrictions.domain": "sdk-tls.example",
    "url_ignore_patterns.pattern": "sdk-ignored.example",
    "allowed_delivery_modes": ["DIRECT"],
    "drop_dispositions": [],
    "regions": ["GLOBAL"],
    "lookback_hops": 1,
    "exclude": [],
    # 5.9.0's content policies (patterns matched against a message's subject or body).
    "content_policies.enabled": True,
    "content_policies.name": "SDK content policy",
    "content_policies.pattern": "sdk-content-pattern",
    "targets": ["SUBJECT"],
}
# Optional arguments given anyway: so that an edit changes something, and `lookback_hops` on a
# domain's replace (PUT), which the vendored OpenAPI file requires and 5.9.0 makes optional.
EXTRAS: dict[str, dict[str, Any]] = {
    "edit": {"comments": "edited through the SDK"},
    "update": {"lookback_hops": 1},
}


def sdk_methods(
    resource: SyncAPIResource, path: str = ""
) -> Iterator[tuple[str, Callable[..., Any]]]:
    for name in sorted(dir(type(resource))):
        if name.startswith(("_", "with_")):
            continue
        attribute = getattr(resource, name)
        if isinstance(attribute, SyncAPIResource):
            yield from sdk_methods(attribute, f"{path}{name}.")
        elif callable(attribute):
            yield f"{path}{name}", attribute


def signature(method: Callable[..., Any]) -> inspect.Signature:
    """The method's signature; for one with overloads (one entry or a batch), the first's."""
    overloads = typing.get_overloads(getattr(type(method.__self__), method.__name__))
    return inspect.signature(overloads[0] if overloads else method)


def area_of(dotted: str) -> str:
    """The collection whose ids a method takes: a settings collection, the bulk jobs (whose
    cancel and messages are sub-resources), or the messages (`investigate.move`, …)."""
    resource = dotted.rpartition(".")[0]
    if resource.startswith("settings"):
        return resource.split(".")[-1]
    return "bulk" if resource.startswith("investigate.bulk") else resource.split(".")[0]


def ordered(methods: list[tuple[str, Callable[..., Any]]]) -> list[tuple[str, Callable[..., Any]]]:
    def key(item: tuple[str, Callable[..., Any]]) -> tuple[str, bool, str, int]:
        resource, _, verb = item[0].rpartition(".")
        # A collection's deletes last: a bulk job's cancel and messages need the job.
        last = verb in ("delete", "bulk_delete")
        return area_of(item[0]), last, resource, ORDER.index(verb) if verb in ORDER else len(ORDER)

    return sorted(methods, key=key)


@pytest.fixture
def sdk(simulator: SimulatorProcess, monkeypatch: pytest.MonkeyPatch) -> cloudflare.Cloudflare:
    # The SDK prefers a global key from the environment over the token (CONTRACT.md §6).
    for name in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return cloudflare.Cloudflare(
        api_token=API_TOKEN, base_url=simulator.base_url, max_retries=0, timeout=10
    )


def test_every_sdk_email_security_method_finds_its_route(
    sdk: cloudflare.Cloudflare, simulator: SimulatorProcess
) -> None:
    ids = simulator.add_messages(quarantined_messages(2, "SDK"))
    postfix = sdk.email_security.investigate.get(ids[0], account_id=ACCOUNT_ID).postfix_id
    known: dict[str, str] = {"investigate": postfix}
    by_name = {
        "postfix_id": postfix, "postfix_ids": [postfix], "body": [postfix], "ids": [ids[0]],
        "id": ids[0],
    }  # fmt: skip
    methods = ordered(list(sdk_methods(sdk.email_security)))
    assert len(methods) >= 65  # 5.9.0's email security methods
    outcomes: dict[str, str] = {}
    for dotted, method in methods:
        verb, area = dotted.rpartition(".")[2], area_of(dotted)
        parameters = signature(method).parameters
        extras = {k: v for k, v in EXTRAS.get(verb, {}).items() if k in parameters}
        args, kwargs = [], {"account_id": ACCOUNT_ID, **extras}
        for parameter in parameters.values():
            if parameter.default is not inspect.Parameter.empty or parameter.name in (
                "self",
                "account_id",
            ):
                continue
            if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
                # An id from this resource's earlier list or create (none if they failed).
                args.append(known.get(area, "no-id-yet"))
                continue
            for key in (f"{area}.{parameter.name}", parameter.name):
                if key in VALUES or key in by_name:
                    kwargs[parameter.name] = VALUES[key] if key in VALUES else by_name[key]
                    break
            else:
                pytest.fail(f"{dotted}: no value for its required argument {parameter.name!r}")
        outcomes[dotted] = call(method, args, kwargs, known, area)
    refused = {name: outcome for name, outcome in outcomes.items() if outcome != "ok"}
    assert refused == {"settings.domains.bulk_delete": "end of life"}


def test_the_bots_sdk_body_shapes_are_what_the_sdk_sends(
    sdk: cloudflare.Cloudflare, simulator: SimulatorProcess
) -> None:
    """The bot's fallback release and preview bodies (`bot/cloudflare/shapes.py`, "sdk") are
    the installed SDK's to the byte: the SDK's calls work with the simulator accepting only that
    shape, and the bodies it logged are the ones the bot would send (CONTRACT.md §6)."""
    simulator.faults(body_shapes="sdk")
    held = add(simulator, subject="SDK shape held", final_disposition="SPAM")
    clean = add(simulator, subject="SDK shape clean", final_disposition="NONE")
    postfix = sdk.email_security.investigate.get(clean, account_id=ACCOUNT_ID).postfix_id
    sdk.email_security.investigate.release.bulk(account_id=ACCOUNT_ID, ids=[held])
    sdk.email_security.investigate.preview.create(account_id=ACCOUNT_ID, id=clean)
    released = [(c["status"], c["body"]) for c in calls_to(simulator, "/investigate/release")]
    previewed = [(c["status"], c["body"]) for c in calls_to(simulator, "/investigate/preview")]
    assert released == [(200, release_body([held], "sdk"))] == [(200, {"ids": [held]})]
    assert previewed == [(200, preview_body(postfix, clean, "sdk"))] == [(200, {"id": clean})]


def call(
    method: Callable[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
    known: dict[str, str],
    area: str,
) -> str:
    """ "ok", "end of life", or what else the simulator answered."""
    try:
        result = method(*args, **kwargs)
    except cloudflare.APIStatusError as error:
        errors = (error.body or {}).get("errors") if isinstance(error.body, dict) else None
        code = errors[0].get("code") if errors else None
        if code == EOL_PARAMETER:
            return "end of life"
        return f"{error.status_code} {errors}"
    items = list(getattr(result, "result", None) or []) if hasattr(result, "result") else []
    first = items[0] if items else result
    # A bulk job is named by `job_id`; everything else by `id`.
    found = getattr(first, "id", None) or getattr(first, "job_id", None)
    if found is not None and (area not in known or method.__name__ == "create"):
        known[area] = str(found)
    return "ok"


def test_content_policies_are_kept_checked_filtered_and_batched(
    sdk: cloudflare.Cloudflare,
) -> None:
    """5.9.0's content policies, which the vendored file lacks, behave like the other
    collections: created and read back, refused when a field is wrong, filtered by `enabled` and
    `name`, edited, and changed in an atomic batch."""
    policies = sdk.email_security.settings.content_policies
    made = policies.create(
        account_id=ACCOUNT_ID, enabled=True, name="Invoice lure", pattern=r"invoice\s+#\d+",
        targets=["SUBJECT", "BODY"], notes="seen in the June campaign",
    )  # fmt: skip
    assert made.id and made.created_at
    assert (made.name, made.enabled, made.targets) == ("Invoice lure", True, ["SUBJECT", "BODY"])
    assert policies.get(made.id, account_id=ACCOUNT_ID).pattern == r"invoice\s+#\d+"
    for wrong, message in (
        ({"targets": ["HEADERS"]}, "'targets' must be a non-empty list of SUBJECT, BODY"),
        ({"targets": []}, "'targets' must be a non-empty list"),
        ({"pattern": "invoice ("}, "'pattern' is not a valid regular expression"),
        ({"name": "invoice LURE"}, "Content policy 'invoice LURE' already exists"),
    ):
        fields = {"enabled": False, "name": "Other", "pattern": "x", "targets": ["BODY"], **wrong}
        with pytest.raises(cloudflare.UnprocessableEntityError, match=re.escape(message)):
            policies.create(account_id=ACCOUNT_ID, **fields)
    off = policies.create(
        account_id=ACCOUNT_ID, enabled=False, name="Payroll lure", pattern="payroll",
        targets=["BODY"],
    )  # fmt: skip
    assert off.notes is None
    enabled = policies.list(account_id=ACCOUNT_ID, enabled=True).result
    assert [policy.id for policy in enabled] == [made.id]
    assert [p.id for p in policies.list(account_id=ACCOUNT_ID, name="payroll lure").result] == [
        off.id
    ]
    assert policies.edit(off.id, account_id=ACCOUNT_ID, enabled=True).enabled is True
    with pytest.raises(cloudflare.UnprocessableEntityError):  # the post refused: nothing done
        policies.batch(
            account_id=ACCOUNT_ID, deletes=[{"id": made.id}], patches=[], puts=[],
            posts=[{"enabled": True, "name": "Bad", "pattern": "(", "targets": ["BODY"]}],
        )  # fmt: skip
    assert policies.get(made.id, account_id=ACCOUNT_ID).id == made.id
    done = policies.batch(
        account_id=ACCOUNT_ID, deletes=[{"id": made.id}], patches=[], puts=[],
        posts=[
            {"enabled": True, "name": "Gift card lure", "pattern": "gift", "targets": ["SUBJECT"]}
        ],
    )  # fmt: skip
    assert [deleted.id for deleted in done.deletes or []] == [made.id]
    names = {policy.name for policy in policies.list(account_id=ACCOUNT_ID).result}
    assert names == {"Payroll lure", "Gift card lure"}


def test_blocked_senders_take_a_batch(sdk: cloudflare.Cloudflare) -> None:
    """5.9.0's `block_senders.batch` (not in the vendored file): deletes and posts together."""
    senders = sdk.email_security.settings.block_senders
    old = senders.create(
        account_id=ACCOUNT_ID, is_regex=False, pattern="old-lure.example", pattern_type="DOMAIN"
    )
    done = senders.batch(
        account_id=ACCOUNT_ID, deletes=[{"id": str(old.id)}], patches=[], puts=[],
        posts=[{"is_regex": False, "pattern": "new-lure.example", "pattern_type": "DOMAIN"}],
    )  # fmt: skip
    assert [deleted.id for deleted in done.deletes or []] == [old.id]
    assert len(senders.list(account_id=ACCOUNT_ID, pattern="new-lure.example").result) == 1
    assert senders.list(account_id=ACCOUNT_ID, pattern="old-lure.example").result == []
