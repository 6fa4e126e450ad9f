"""Limits on password guessing that cannot be turned against the account's owner (issue 17, item 4).

Three counts, in the limiter's storage:

- per account *and* place (``LOGIN_LIMIT_PER_ACCOUNT``, e.g. 5 per 15 minutes): every attempt is
  counted before the password is checked, so parallel guesses cannot slip past; the place is the
  browser's device cookie when it has one for this account, otherwise the address. A correct
  password clears it. Guessing from one place never blocks the owner in another;
- failures per address (``LOGIN_LIMIT_PER_ADDRESS``): a whole office behind one address logs in all
  day, because successes are not counted;
- failures per account from places the account has never logged in from
  (``LOGIN_LIMIT_PER_ACCOUNT_SLOW``, e.g. 20 per day): bounds a guesser who spreads over many
  addresses. A browser where the owner logged in before carries a signed device cookie and is not
  held by it (OWASP's "device cookies"), so the owner keeps working at their own desk.

The owner is told: the account counts failed attempts, and the next successful login says how many
there were and when the last one was.
"""

from __future__ import annotations

import dataclasses
import secrets

from flask import current_app, request
from flask_limiter.util import get_remote_address
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.exceptions import TooManyRequests

from ..domain.accounts import note_failed_login, take_failed_logins
from ..web import security

DEVICE_COOKIE = "portal_device"
DEVICE_DAYS = 180
MAX_DEVICE_ACCOUNTS = 10      # a shared office computer remembers this many accounts

HERE = "这个账号在这台电脑（或这个网络地址）上的登录尝试次数太多，请 15 分钟后再试。在别的电脑上登录不受影响。"
ADDRESS = "从这个网络地址输错密码的尝试次数太多，请过一会儿再试。"
ACCOUNT = ("这个账号今天在陌生电脑上输错密码的尝试次数太多，已暂停从陌生电脑登录。请在您平常登录的电脑上登录；"
           "如果不是您本人操作，请联系县扶贫办重置密码。")


class LoginPaused(TooManyRequests):
    """A 429 whose page says which limit was reached, in Chinese."""

    def __init__(self, message: str):
        super().__init__(description=message)
        self.message = message


@dataclasses.dataclass(frozen=True)
class Attempt:
    name: str
    place: str          # the per-account-and-place key
    address: str
    known_device: bool


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="login-device")


def _device() -> dict:
    """The browser's device cookie: {"id": ..., "accounts": [...]}, or {} when missing or forged."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return {}
    try:
        value = _serializer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return {}
    return value if isinstance(value, dict) and isinstance(value.get("accounts"), list) else {}


def attempt(username: str) -> Attempt:
    """Count one password attempt before it is checked; raises LoginPaused when a limit is reached."""
    config = current_app.config
    name = username.strip().lower()
    address = get_remote_address()
    device = _device()
    known = name in device.get("accounts", ())
    place = f"login:{name}:" + (f"device:{device['id']}" if known else f"address:{address}")
    if not security.hit(config["LOGIN_LIMIT_PER_ACCOUNT"], place):
        raise LoginPaused(HERE)
    if not security.test(config["LOGIN_LIMIT_PER_ADDRESS"], "login-address:" + address):
        raise LoginPaused(ADDRESS)
    if not known and not security.test(config["LOGIN_LIMIT_PER_ACCOUNT_SLOW"],
                                              "login-account:" + name):
        raise LoginPaused(ACCOUNT)
    return Attempt(name, place, address, known)


def failed(db, attempt: Attempt, clock) -> None:
    """A wrong password: count it against the address and (from an unknown place) the account, and
    keep it on the account for its owner to be told."""
    config = current_app.config
    security.hit(config["LOGIN_LIMIT_PER_ADDRESS"], "login-address:" + attempt.address)
    if not attempt.known_device:
        security.hit(config["LOGIN_LIMIT_PER_ACCOUNT_SLOW"], "login-account:" + attempt.name)
    note_failed_login(db, attempt.name, clock=clock)


def succeeded(db, attempt: Attempt) -> tuple[int, str | None]:
    """The right password: clear this place's count; returns (failed attempts since the last
    login, when the last one was) and resets them."""
    security.clear(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], attempt.place)
    return take_failed_logins(db, attempt.name)


def remember_device(response, attempt: Attempt) -> None:
    """Give (or extend) the browser's device cookie for this account after a successful login."""
    device = _device()
    accounts = [a for a in device.get("accounts", []) if a != attempt.name][-(MAX_DEVICE_ACCOUNTS - 1):]
    value = {"id": device.get("id") or secrets.token_hex(16), "accounts": [*accounts, attempt.name]}
    response.set_cookie(DEVICE_COOKIE, _serializer().dumps(value), max_age=DEVICE_DAYS * 86400, path="/staff",
                        httponly=True, samesite="Lax", secure=bool(current_app.config.get("HTTPS")))
