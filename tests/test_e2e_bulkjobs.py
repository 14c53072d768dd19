"""End to end: "Release all matching" is approved as a query (filters, fixed window, ceiling)
and run as one Cloudflare bulk job: the search read no further than BOT_BULK_SEARCH_LIMIT + 1
matches, its ceiling the count (when the search ended there) or BOT_BULK_JOB_CEILING (when it did
not), its progress on the card, the job cancelled when discovery passes the ceiling or when
someone allowed presses Cancel, the fallback to chunks when the API refuses bulk jobs, and a
restarted bot following the job it made, which is created once whatever happens (a POST
answered 5xx included), and the cards of the messages the request holds following the job's end.

A bot of its own (BOT_BULK_SEARCH_LIMIT=5, BOT_BULK_JOB_CEILING=40, BOT_BULK_ALL_AS_QUERY=true:
every "all matching" is a query, counted up to 5 matches, else with the ceiling 40) on a Redis
database of its own; the simulator runs its jobs at `bulk_rate` messages a second (discovery ten
times faster).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from tests.kit.factories import quarantined_messages
from tests.kit.flows import (
    approval_card,
    card_now,
    released_ids,
    request_id_of,
    thread_reply,
    wait_card,
)
from tests.kit.servers import ACCOUNT_ID, API_TOKEN, RedisProcess, SimulatorProcess
from tests.kit.slack import (
    APPROVER,
    OPERATOR,
    VIEWER,
    BotProcess,
    Slack,
    StandinProcess,
    clean_slate,
    has_action,
    text_of,
)

LIMIT = "5"
JOB_CEILING = "40"
DB = "5"
SETTINGS = {
    "BOT_BULK_SEARCH_LIMIT": LIMIT, "BOT_BULK_JOB_CEILING": JOB_CEILING,
    "BOT_BULK_ALL_AS_QUERY": "true",
}  # fmt: skip


def _url(redis_server: RedisProcess) -> str:
    return redis_server.url.rsplit("/", 1)[0] + "/" + DB


@pytest.fixture(scope="module")
def query_bot(
    shared_simulator: SimulatorProcess, standin: StandinProcess, redis_server: RedisProcess
) -> Iterator[BotProcess]:
    with BotProcess(shared_simulator, standin, _url(redis_server), **SETTINGS) as process:
        yield process


@pytest.fixture
def jobs(
    query_bot: BotProcess,
    standin: StandinProcess,
    simulator: SimulatorProcess,
    redis_server: RedisProcess,
) -> Slack:
    clean_slate(standin, _url(redis_server))
    return Slack(query_bot, standin)


def ask(
    driver: Slack, simulator: SimulatorProcess, count: int, tag: str, bounce: int = 0
) -> tuple[dict[str, Any], list[str]]:
    """`count` quarantined messages "<tag> batch" (the first `bounce` of them deliverable to
    nobody), searched, "Release all matching" asked by an operator: the approval card, the ids."""
    ids = batch(simulator, count, tag, bounce)
    return ask_all(driver, count, tag), ids


def batch(simulator: SimulatorProcess, count: int, tag: str, bounce: int = 0) -> list[str]:
    """`count` quarantined messages "<tag> batch", newest first (the first `bounce` of them
    deliverable to nobody): their ids."""
    messages = quarantined_messages(count, tag)
    for n, message in enumerate(messages):
        message["subject"] = f"{tag} batch"
        if n < bounce:
            message["to"] = [f"bounce{n}@example.com"]
    return simulator.add_messages(messages)


def ask_all(driver: Slack, count: int, tag: str) -> dict[str, Any]:
    """The batch searched, "Release all matching" asked by an operator: the approval card."""
    driver.command(f'search subject:"{tag} batch"')
    driver.click(driver.private(OPERATOR, f"{tag} batch"), "search_release_all")
    driver.submit(driver.view("search_bulk_modal"), {"reason": "campaign clean-up"})
    return approval_card(driver, f"{tag} batch")  # the query's filters, on its card


def jobs_created(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return [
        c for c in simulator.calls()
        if c["method"] == "POST" and c["path"].endswith("/investigate/bulk")
    ]  # fmt: skip


def jobs_made(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    """Every bulk job the simulator holds (the API's own list)."""
    answer = httpx.get(
        f"{simulator.base_url}/accounts/{ACCOUNT_ID}/email-security/investigate/bulk",
        params={"per_page": "100"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    return list(answer.json()["result"])


def quarantined(simulator: SimulatorProcess, tag: str) -> int:
    """How many messages of the batch are still quarantined (the API's search says)."""
    answer = httpx.get(
        f"{simulator.base_url}/accounts/{ACCOUNT_ID}/email-security/investigate",
        params={"subject": f"{tag} batch", "per_page": "1000"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    return sum(1 for m in answer.json()["result"] if m.get("is_quarantined"))


def test_a_query_shows_its_search_and_ceiling_then_its_job_to_the_end(
    jobs: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    card, _ = ask(jobs, simulator, 30, "Qprog", bounce=1)
    text = text_of(card)
    assert "Release the messages matching a search (more than 5 match; at most 40)" in text
    assert "Approved as a query" in text and "at most 40 (BOT_BULK_JOB_CEILING)" in text
    assert "Qprog batch" in text and "Window" in text, text
    simulator.faults(bulk_rate=10)  # discovered in 0.3 s, then 3 s of processing
    jobs.click(card, "approval_approve", user=APPROVER)
    running = wait_card(jobs, card["ts"], "processing")
    assert "Bulk job" in text_of(running) and "Cancel job" in text_of(running)
    done = wait_card(jobs, card["ts"], "Done", timeout=30)
    final = text_of(done)
    assert "found 30 · done 29 · failed 1 · pending 0" in final, final
    assert "`Qprog000000` (Delivery failed for every recipient)" in final
    assert "Cancel job" not in final
    thread_reply(jobs, card["ts"], "bulk job completed. 29 done, 1 failed.")
    # The job's end is audited once, by the announcement (end_audit.py), before the card.
    wanted = (request_id_of(card).encode(), b"bulk job release")
    trail = [f for _, f in redis.Redis.from_url(_url(redis_server)).xrange("audit")
             if (f[b"request_id"], f[b"action"]) == wanted]  # fmt: skip
    assert [f[b"outcome"] for f in trail] == [b"created", b"failures"]
    ended = json.loads(trail[-1][b"detail"])
    assert (ended["discovered"], ended["successful"], ended["failed"]) == (30, 29, 1), ended
    assert len(jobs_created(simulator)) == 1
    assert released_ids(simulator) == [], "no chunk was sent: the job did it"


def test_a_search_past_the_limit_is_read_no_further_and_asked_with_the_settings_ceiling(
    jobs: Slack, simulator: SimulatorProcess, redis_server: RedisProcess
) -> None:
    """Cloudflare gives no total: the bot reads BOT_BULK_SEARCH_LIMIT + 1 matches (one page of
    6 here), not the whole search, and asks with BOT_BULK_JOB_CEILING as the ceiling, saying so
    on the card, in the requester's answer, in the rule and in the audit."""
    messages = quarantined_messages(30, "Qmore")
    simulator.add_messages([dict(m, subject="Qmore batch") for m in messages])
    jobs.command('search subject:"Qmore batch"')
    results = jobs.private(OPERATOR, "Qmore batch")
    mark = len(simulator.requests())
    jobs.click(results, "search_release_all")
    jobs.submit(jobs.view("search_bulk_modal"), {"reason": "campaign clean-up"})
    card = text_of(approval_card(jobs, "Qmore batch"))
    said = (
        "More than 5 messages match (Cloudflare gives no total, so the bot counted no "
        "further). The bulk job acts on every match still quarantined, at most 40 "
        "(BOT_BULK_JOB_CEILING); it is cancelled if it finds more"
    )
    assert "Release the messages matching a search (more than 5 match; at most 40)" in card
    assert f"*Ceiling*: {said}" in card, card
    assert "at most 40 messages" not in card, "40 is the setting, not a count"
    assert "it touches more than 5 messages" in card, "the first 5 are not all of it"
    answer = text_of(jobs.private(OPERATOR, "Asked for approval"))
    assert said in answer and "Approved as a query" in answer, answer
    reads = [
        r["query"] for r in simulator.requests()[mark:]
        if r["method"] == "GET" and r["path"].endswith("/email-security/investigate")
    ]  # fmt: skip
    assert [(q.get("per_page"), q.get("cursor")) for q in reads] == [("6", None)], reads
    store = redis.Redis.from_url(_url(redis_server))
    asked = [f for _, f in store.xrange("audit") if f[b"action"] == b"request release"]
    detail = json.loads(asked[-1][b"detail"])
    assert (detail["ceiling"], detail["ceiling_from"]) == ("40", "setting")
    assert said in detail["rule"] and detail["search"]["subject"] == "Qmore batch"


def test_a_counted_ceiling_is_the_matches_and_a_job_past_it_is_cancelled(
    jobs: Slack, simulator: SimulatorProcess
) -> None:
    """A search that ends within BOT_BULK_SEARCH_LIMIT is counted: its ceiling is its matches."""
    card, _ = ask(jobs, simulator, 4, "Qceil")
    text = text_of(card)
    assert "Release at most 4 messages matching a search" in text
    assert "Approved as a query: at most 4 messages" in text and "BOT_BULK_JOB_CEILING" not in text
    # More mail of the same campaign within the request's window: the job will find 8.
    late = quarantined_messages(4, "QceilLate")
    simulator.add_messages([dict(m, subject="Qceil batch") for m in late])
    simulator.faults(bulk_rate=1)
    jobs.click(card, "approval_approve", user=APPROVER)
    done = wait_card(jobs, card["ts"], "more than the ceiling of 4 messages approved", timeout=30)
    assert "cancelled" in text_of(done).lower() and "BOT_BULK_JOB_CEILING" not in text_of(done)
    wait_card(jobs, card["ts"], "Job cancelled", timeout=30)
    assert quarantined(simulator, "Qceil") >= 6, "the job stopped before acting on most"


def test_a_job_that_finds_more_than_bot_bulk_job_ceiling_is_cancelled(
    jobs: Slack, simulator: SimulatorProcess
) -> None:
    card, _ = ask(jobs, simulator, 12, "Qset")
    # The campaign grew within the request's window: the job finds 42, past the setting's 40.
    late = quarantined_messages(30, "QsetLate")
    simulator.add_messages([dict(m, subject="Qset batch") for m in late])
    simulator.faults(bulk_rate=3)  # all found in 1.4 s; 14 s of processing
    jobs.click(card, "approval_approve", user=APPROVER)
    done = wait_card(jobs, card["ts"], "Job cancelled", timeout=30)
    assert (
        "Cancelled by the bot: the job found more than the ceiling of 40 messages "
        "(BOT_BULK_JOB_CEILING)" in text_of(done)
    ), text_of(done)
    thread_reply(jobs, card["ts"], "it found more than the ceiling of 40 (BOT_BULK_JOB_CEILING)")
    assert quarantined(simulator, "Qset") >= 20, "the job stopped before acting on most"


@pytest.mark.starts_first(15)
def test_cancel_is_for_the_requester_or_an_approver(
    jobs: Slack, simulator: SimulatorProcess
) -> None:
    card, ids = ask(jobs, simulator, 30, "Qstop")
    jobs.command(f"lookup {ids[4]}")  # one of the messages the request holds (the first 5)
    lookup = jobs.card(lambda m: ids[4] in str(m))
    simulator.faults(bulk_rate=1)  # 30 s of processing
    jobs.click(card, "approval_approve", user=APPROVER)
    running = wait_card(jobs, card["ts"], "processing", timeout=30)
    jobs.click(running, "approval_job_cancel", user=VIEWER)
    assert "approver" in text_of(jobs.private(VIEWER, "cancel a bulk job"))
    jobs.click(running, "approval_job_cancel", user=APPROVER)
    jobs.private(APPROVER, "Cancelling the bulk job")
    stopped = wait_card(jobs, card["ts"], "Job cancelled", timeout=30)
    assert f"Cancelled by <@{APPROVER}>" in text_of(stopped)
    thread_reply(jobs, card["ts"], f"Cancelled by <@{APPROVER}>")
    assert quarantined(simulator, "Qstop") >= 20, "what was not yet done stays quarantined"
    # What the job did to it is not known: the card says so, and shows it as it is now.
    said = text_of(card_now(jobs, lookup["ts"]))
    assert "Release not finished (the job was cancelled before it ended" in said, said


def test_a_refused_bulk_job_falls_back_to_chunks_of_the_first_matches(
    jobs: Slack, simulator: SimulatorProcess
) -> None:
    card, ids = ask(jobs, simulator, 8, "Qrefd")
    simulator.faults(bulk_jobs=False)
    jobs.click(card, "approval_approve", user=APPROVER)
    done = wait_card(jobs, card["ts"], "Done", timeout=30)
    final = text_of(done)
    assert "Bulk job refused by the API" in final and "not enabled" in final, final
    assert "Falling back to the first 5 messages" in final
    released = released_ids(simulator)
    assert len(released) == len(set(released)) == 5
    assert set(released) <= set(ids)
    assert [c["status"] for c in jobs_created(simulator)] == [403]


@pytest.mark.starts_first(23)
def test_a_restarted_bot_follows_the_job_it_made(
    jobs: Slack,
    query_bot: BotProcess,
    shared_simulator: SimulatorProcess,
    simulator: SimulatorProcess,
    standin: StandinProcess,
    redis_server: RedisProcess,
) -> None:
    victim = BotProcess(shared_simulator, standin, _url(redis_server), **SETTINGS)
    try:
        driver = Slack(victim, standin)
        card, _ = ask(driver, simulator, 30, "Qkill")
        simulator.faults(bulk_rate=2)  # 15 s of processing
        driver.click(card, "approval_approve", user=APPROVER)
        wait_card(jobs, card["ts"], "processing", timeout=30)
        victim.process.kill()
        victim.process.wait()
        simulator.faults(bulk_rate=1000)  # the rest at once: what counts is who follows it
        # The module's bot sweeps the stalled request once its lease lapsed and follows the
        # same job to its end.
        done = wait_card(jobs, card["ts"], "Done", timeout=60)
    finally:
        victim.stop()
    assert "found 30 · done 30 · failed 0" in text_of(done), text_of(done)
    assert len(jobs_created(simulator)) == 1, "one job, whoever ran the request"
    assert quarantined(simulator, "Qkill") == 0


def test_the_cards_of_the_messages_a_job_acted_on_follow_it(
    jobs: Slack, simulator: SimulatorProcess
) -> None:
    """Every card of a message shows its current state: a lookup card of a message the job
    released loses its Release button and says what the job did; one of a message the job
    failed on says so, and keeps Release (it is still quarantined)."""
    ids = batch(simulator, 8, "Qcard", bounce=1)  # newest first: the request holds ids[:5]
    jobs.command(f"lookup {ids[1]}")
    released = jobs.card(lambda m: ids[1] in str(m))
    jobs.command(f"lookup {ids[0]}")
    bounced = jobs.card(lambda m: ids[0] in str(m))
    assert has_action(released, "msg_release") and has_action(bounced, "msg_release")
    card = ask_all(jobs, 8, "Qcard")
    simulator.faults(bulk_rate=0.1)  # 80 s of processing: it ends when the clock is moved on
    jobs.click(card, "approval_approve", user=APPROVER)
    wait_card(jobs, card["ts"], "Cancel job")  # the job runs
    simulator.advance(600)  # and ends at once

    def followed(ts: str, containing: str) -> dict[str, Any]:
        return jobs.wait(
            lambda: (lambda m: m if containing in text_of(m) else None)(card_now(jobs, ts)),
            f"card {ts} to show {containing!r}", timeout=30,
        )  # fmt: skip

    done = followed(released["ts"], "Released by the bulk job of approval request")
    assert not has_action(done, "msg_release"), "no Release on a message the job released"
    assert f"approved by <@{APPROVER}>" in text_of(done), text_of(done)
    failed = followed(bounced["ts"], "Release failed (Delivery failed for every recipient) in")
    assert "the bulk job of approval request" in text_of(failed)
    assert has_action(failed, "msg_release"), "still quarantined: Release stays"
    wait_card(jobs, card["ts"], "Done", timeout=30)
    assert text_of(card_now(jobs, released["ts"])).count("bulk job") == 1, "one line"
    assert len(jobs_created(simulator)) == 1


@pytest.mark.parametrize("lands", [False, True], ids=["not-made", "made-answer-lost"])
def test_a_job_creation_answered_5xx_is_told_and_resumed_into_one_job(
    jobs: Slack, simulator: SimulatorProcess, lands: bool
) -> None:
    """The job's POST answered 503 (nothing made) or 502 (made all the same, the answer lost on
    the way): the card says so; the lease is left to lapse and the sweeper resumes the request,
    which looks the job up by its comment before making one: one job, run to its end."""
    tag = f"Q5xx{int(lands)}"
    card, _ = ask(jobs, simulator, 8, tag)
    simulator.faults(bulk_create_errors=1, bulk_create_lands=lands)
    jobs.click(card, "approval_approve", user=APPROVER)
    told = wait_card(jobs, card["ts"], "could not be created")
    assert "Service temporarily unavailable" in text_of(told), text_of(told)
    done = wait_card(jobs, card["ts"], "Done", timeout=30)
    assert "found 8 · done 8 · failed 0" in text_of(done), text_of(done)
    assert "could not be created" not in text_of(done)
    statuses = [c["status"] for c in jobs_created(simulator)]
    assert statuses == ([502] if lands else [503, 201]), statuses
    assert len(jobs_made(simulator)) == 1, "one job, whatever the POST's answer said"
    assert quarantined(simulator, tag) == 0
