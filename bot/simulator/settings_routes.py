"""Handlers for the settings collections, the protected domains and the bulk jobs.

Registered before the investigate routes (app.py): aiohttp tries routes in the order they were
added, and `GET investigate/bulk` must reach the bulk jobs, not a message whose id is "bulk".
"""

from __future__ import annotations

from aiohttp import web

from bot.simulator.errors import ApiError
from bot.simulator.faults import injected_error
from bot.simulator.kinds import KINDS
from bot.simulator.routes import BASE, _json, _page, _sim, ok, params_of
from bot.simulator.runtime import now

BULK_JOBS_OFF = 10403  # the code an account without bulk actions is answered with
_KIND = "{kind:" + "|".join(KINDS) + "}"
_BATCHED = "{kind:" + "|".join(name for name, kind in KINDS.items() if kind.batch) + "}"


def add_settings_routes(app: web.Application) -> None:
    bulk = f"{BASE}/investigate/bulk"
    app.router.add_get(bulk, jobs_list)
    app.router.add_post(bulk, jobs_create)
    app.router.add_get(f"{bulk}/{{job_id}}", jobs_get)
    app.router.add_delete(f"{bulk}/{{job_id}}", jobs_delete)
    app.router.add_post(f"{bulk}/{{job_id}}/cancel", jobs_cancel)
    app.router.add_get(f"{bulk}/{{job_id}}/messages", jobs_messages)
    domains = f"{BASE}/settings/domains"
    app.router.add_get(domains, domains_list)
    app.router.add_post(domains, domains_create)
    app.router.add_delete(domains, domains_bulk_delete)
    app.router.add_post(f"{domains}/batch", domains_batch)
    app.router.add_get(f"{domains}/{{domain_id}}", domains_get)
    app.router.add_put(f"{domains}/{{domain_id}}", domains_replace)
    app.router.add_patch(f"{domains}/{{domain_id}}", domains_update)
    app.router.add_delete(f"{domains}/{{domain_id}}", domains_delete)
    app.router.add_get(f"{domains}/{{domain_id}}/verification", domains_verification)
    app.router.add_post(f"{BASE}/settings/{_BATCHED}/batch", settings_batch)
    app.router.add_get(f"{BASE}/settings/{_KIND}", settings_list)
    app.router.add_post(f"{BASE}/settings/{_KIND}", settings_create)
    app.router.add_get(f"{BASE}/settings/{_KIND}/{{record_id}}", settings_get)
    app.router.add_patch(f"{BASE}/settings/{_KIND}/{{record_id}}", settings_update)
    app.router.add_delete(f"{BASE}/settings/{_KIND}/{{record_id}}", settings_delete)


# Settings collections -------------------------------------------------------------------------


async def settings_list(request: web.Request) -> web.Response:
    kind, settings = request.match_info["kind"], _sim(request).store.settings
    return _page(request, lambda params: settings.list(kind, params))


async def settings_create(request: web.Request) -> web.Response:
    body = await _json(request)
    created = _sim(request).store.settings.create(request.match_info["kind"], body, now())
    return ok(created, status=201)


async def settings_get(request: web.Request) -> web.Response:
    kind, record_id = request.match_info["kind"], request.match_info["record_id"]
    return ok(_sim(request).store.settings.get(kind, record_id))


async def settings_update(request: web.Request) -> web.Response:
    kind, record_id = request.match_info["kind"], request.match_info["record_id"]
    body = await _json(request)
    return ok(_sim(request).store.settings.update(kind, record_id, body, now()))


async def settings_delete(request: web.Request) -> web.Response:
    kind, record_id = request.match_info["kind"], request.match_info["record_id"]
    return ok(_sim(request).store.settings.delete(kind, record_id))


async def settings_batch(request: web.Request) -> web.Response:
    body = await _json(request)
    return ok(_sim(request).store.settings.batch(request.match_info["kind"], body, now()))


# Protected domains ----------------------------------------------------------------------------


async def domains_list(request: web.Request) -> web.Response:
    store, wanted = _sim(request).store, request.query.getall("domain", [])
    moment = store.clock(now())
    return _page(request, lambda params: store.domains.list(params, wanted, moment))


async def domains_create(request: web.Request) -> web.Response:
    body = await _json(request)
    store = _sim(request).store
    return ok(store.domains.create(body, store.clock(now())), status=201)


async def domains_bulk_delete(request: web.Request) -> web.Response:
    _sim(request).store.domains.bulk_delete()  # past end of life: always refused


async def domains_batch(request: web.Request) -> web.Response:
    body = await _json(request)
    store = _sim(request).store
    return ok(store.domains.batch(body, store.clock(now())))


async def domains_get(request: web.Request) -> web.Response:
    store = _sim(request).store
    return ok(store.domains.get(request.match_info["domain_id"], store.clock(now())))


async def domains_replace(request: web.Request) -> web.Response:
    body = await _json(request)
    store, domain_id = _sim(request).store, request.match_info["domain_id"]
    return ok(store.domains.update(domain_id, body, store.clock(now()), replacing=True))


async def domains_update(request: web.Request) -> web.Response:
    body = await _json(request)
    store, domain_id = _sim(request).store, request.match_info["domain_id"]
    return ok(store.domains.update(domain_id, body, store.clock(now())))


async def domains_delete(request: web.Request) -> web.Response:
    return ok(_sim(request).store.domains.delete(request.match_info["domain_id"]))


async def domains_verification(request: web.Request) -> web.Response:
    store = _sim(request).store
    found = store.domains.verification(request.match_info["domain_id"], store.clock(now()))
    return ok(found) if found is not None else web.Response(status=204)


# Bulk jobs ------------------------------------------------------------------------------------


async def jobs_create(request: web.Request) -> web.Response:
    simulator = _sim(request)
    if not simulator.faults.settings.bulk_jobs:
        raise ApiError(403, BULK_JOBS_OFF, "Bulk actions are not enabled for this account")
    body = await _json(request)
    store, faults = simulator.store, simulator.faults.settings
    failing = faults.bulk_create_errors > 0  # faults.py: a server-side failure, counted down
    if failing:
        faults.bulk_create_errors -= 1
        if not faults.bulk_create_lands:
            raise injected_error(503)
    job = store.bulk_jobs.create(body, store.find_all, store.clock(now()), faults.bulk_rate)
    if failing:  # made, but the answer is lost on the way back
        raise injected_error(502)
    return ok(job, status=201)


async def jobs_list(request: web.Request) -> web.Response:
    store = _sim(request).store
    store.clock(now())
    return ok(*store.bulk_jobs.list(params_of(request)))


async def jobs_get(request: web.Request) -> web.Response:
    store = _sim(request).store
    store.clock(now())
    return ok(store.bulk_jobs.get(request.match_info["job_id"]))


async def jobs_cancel(request: web.Request) -> web.Response:
    store = _sim(request).store
    return ok(store.bulk_jobs.cancel(request.match_info["job_id"], store.clock(now())))


async def jobs_delete(request: web.Request) -> web.Response:
    return ok(_sim(request).store.bulk_jobs.delete(request.match_info["job_id"]))


async def jobs_messages(request: web.Request) -> web.Response:
    store = _sim(request).store
    store.clock(now())
    return ok(*store.bulk_jobs.messages(request.match_info["job_id"], params_of(request)))
