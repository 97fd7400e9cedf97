"""The request-bound half of the key check and the rate limits: reads the request and the
settings, and hands them to utils.auth and utils.rate_limits."""

from __future__ import annotations

from flask import current_app, request

from utils import auth
from utils.rate_limits import ClientLimits, counters_of


def client_limits() -> ClientLimits:
    """This request's client (ProxyFix's address when proxies are trusted) in this app."""
    prefix = str(current_app.config["RATELIMIT_KEY_PREFIX"])
    return ClientLimits(counters_of(current_app), prefix, request.remote_addr or "127.0.0.1")


def enforce_default_limit() -> None:
    """Count this request against RATELIMIT_DEFAULT (per endpoint); 429 once spent."""
    limits = str(current_app.config["RATELIMIT_DEFAULT"])
    client_limits().enforce_default(limits, request.endpoint or "")


def enforce_auth_check_interval() -> None:
    """One /auth/check per AUTH_CHECK_INTERVAL_SECONDS."""
    client_limits().enforce_auth_check_interval(current_app.config["AUTH_CHECK_INTERVAL_SECONDS"])


def check_api_key() -> None:
    """401 unless the request carries the configured key; wrong keys are rate limited."""
    auth.check_api_key(
        auth.provided_api_key(request),
        current_app.config.get("SECRET_KEY"),
        client_limits(),
        str(current_app.config["AUTH_FAILURE_LIMIT"]),
    )


def check_key_if_required() -> None:
    """Before a view marked with utils.auth.require_api_key: the key check. Flask answers
    an automatic OPTIONS (a CORS preflight) without running the view: no key there."""
    rule = request.url_rule
    if request.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
        return
    if auth.requires_api_key(current_app.view_functions.get(request.endpoint or "")):
        check_api_key()
