"""Logging in and out, passwords, sessions, rate limits, and the create-user command."""


import pytest

from portal.domain.accounts import allowed, in_jurisdiction

from .conftest import PASSWORD, login


def test_jurisdiction_is_the_region_subtree():
    assert in_jurisdiction("430811", "430811100001")
    assert in_jurisdiction("430811100", "430811100")
    assert not in_jurisdiction("430811100", "430811200001")
    assert not in_jurisdiction("430811100001", "430811100")
    assert not in_jurisdiction("430811", "")


def test_publishing_depends_on_the_level():
    assert allowed("township_reviewer", "430811100", "lists.publish", "430811100", "township")
    assert not allowed("township_reviewer", "430811100", "lists.publish", "430811100001", "village")
    assert not allowed("county_admin", "430811", "lists.publish", "430811100", "township")
    assert allowed("county_admin", "430811", "lists.publish", "430811", "county")


def test_password_is_stored_only_as_argon2(db, staff):
    row = db["users"].get(staff["near_user"])
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]
    assert PASSWORD not in str(list(db.query("select * from audit_log")))


def test_wrong_password_and_unknown_user_get_the_same_message(client, staff):
    wrong = client.post("/staff/login", data={"username": "clerk", "password": "not the password"})
    unknown = client.post("/staff/login", data={"username": "nobody", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    for resp in (wrong, unknown):
        assert "用户名或密码不对" in resp.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def test_login_logout(client, staff):
    resp = login(client, "clerk")
    assert resp.status_code == 302 and resp.headers["Location"] == "/staff/"
    assert "双星村" in client.get("/staff/").get_data(as_text=True)
    assert client.post("/staff/logout").status_code == 302
    assert client.get("/staff/").status_code == 302


def test_login_redirects_only_inside_the_console(client, staff):
    resp = client.post("/staff/login?next=https://evil.example/", data={"username": "clerk", "password": PASSWORD})
    assert resp.headers["Location"] == "/staff/"
    client.post("/staff/logout")
    resp = client.post("/staff/login?next=/staff/users", data={"username": "clerk", "password": PASSWORD})
    assert resp.headers["Location"] == "/staff/users"


def test_session_expires_after_inactivity(app, client, staff):
    import time
    login(client, "clerk")
    assert client.get("/staff/").status_code == 200
    app.config["PERMANENT_SESSION_LIFETIME"] = 1
    time.sleep(2.1)   # the signed session cookie carries its own timestamp
    resp = client.get("/staff/")
    assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"]


def test_password_change_ends_other_sessions(app, staff):
    first, second = app.test_client(), app.test_client()
    login(first, "clerk")
    login(second, "clerk")
    bad = first.post("/staff/password", data={"old": "wrong wrong wrong", "new": "another long secret", "repeat": "another long secret"})
    assert bad.status_code == 400 and "原密码不对" in bad.get_data(as_text=True)
    short = first.post("/staff/password", data={"old": PASSWORD, "new": "short", "repeat": "short"})
    assert short.status_code == 400 and "至少要 10 位" in short.get_data(as_text=True)
    ok = first.post("/staff/password", data={"old": PASSWORD, "new": "another long secret", "repeat": "another long secret"})
    assert ok.status_code == 302
    assert second.get("/staff/").status_code == 302          # the other session is gone
    assert login(first, "clerk").status_code == 401
    assert login(first, "clerk", "another long secret").status_code == 302


def test_failed_logins_are_limited_per_account(app, staff):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    client = app.test_client()
    for _ in range(3):
        assert login(client, "clerk", "wrong password!").status_code == 401
    blocked = login(client, "clerk", PASSWORD)          # even the right password waits
    assert blocked.status_code == 429 and "尝试次数太多" in blocked.get_data(as_text=True)
    assert login(client, "reviewer").status_code == 302   # other accounts are not blocked
    # An unknown account is limited the same way, so the limit reveals nothing.
    for _ in range(3):
        login(client, "ghost", "wrong password!")
    assert login(client, "ghost", "wrong password!").status_code == 429


def test_failed_logins_are_limited_per_address(app, staff):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "4 per 15 minutes"
    client = app.test_client()
    for name in ("a1", "a2", "a3", "a4"):
        assert login(client, name, "wrong password!").status_code == 401
    assert login(client, "clerk").status_code == 429
    other = app.test_client()
    resp = other.post("/staff/login", data={"username": "clerk", "password": PASSWORD},
                      environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert resp.status_code == 302


def test_a_correct_password_clears_the_account_count(app, staff):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 15 minutes"
    for _ in range(4):
        client = app.test_client()
        assert login(client, "clerk", "wrong password!").status_code == 401
        assert login(client, "clerk").status_code == 302


def test_parallel_guesses_cannot_slip_past_the_limit(app, staff):
    """Each attempt is counted before the password is checked, so 20 guesses sent at once get
    no more than the limit's worth of answers."""
    from concurrent.futures import ThreadPoolExecutor
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "5 per 15 minutes"

    def guess(i):
        return login(app.test_client(), "clerk", f"wrong password {i}").status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(guess, range(20)))
    assert codes.count(401) == 5 and codes.count(429) == 15


def test_wrong_old_password_on_the_password_page_is_limited(app, staff):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    client = app.test_client()
    login(client, "clerk")
    codes = [client.post("/staff/password", data={"old": f"guess number {i}", "new": "another long secret",
                                                   "repeat": "another long secret"}).status_code for i in range(5)]
    assert codes == [400, 400, 400, 429, 429]        # the login itself cleared the count


def test_logout_ends_the_session_on_the_server(app, staff):
    client = app.test_client()
    login(client, "clerk")
    cookie = client.get_cookie("session").value
    client.post("/staff/logout")
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/staff/").status_code == 302


def test_session_has_an_absolute_limit(app, client, staff):
    login(client, "clerk")
    app.config["SESSION_MAX_AGE"] = -1
    assert client.get("/staff/").status_code == 302


def test_create_user_command_reads_password_from_stdin(runner, db, county):
    result = runner.invoke(args=["create-user", "zhang", "--role", "village_clerk", "--region", "430811100001",
                                 "--name", "张文书"], input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    row = next(db.query("select * from users where username = 'zhang'"))
    assert row["role"] == "village_clerk" and row["display_name"] == "张文书"
    assert "a long enough secret" not in result.output
    audit = next(db.query("select * from audit_log where action = 'user.create'"))
    assert audit["actor"] == "命令行" and "a long enough secret" not in str(audit)


@pytest.mark.parametrize("args, stdin, message", [
    (["zhang", "--role", "village_clerk", "--region", "430811100"], "a long enough secret\n", "只能绑定到"),
    (["zhang", "--role", "village_clerk", "--region", "999999999999"], "a long enough secret\n", "不存在"),
    (["zhang", "--role", "village_clerk", "--region", "430811100001"], "short\n", "至少要 10 位"),
    (["bad name", "--role", "village_clerk", "--region", "430811100001"], "a long enough secret\n", "不能有空格"),
])
def test_create_user_command_refuses_bad_input(runner, db, county, args, stdin, message):
    result = runner.invoke(args=["create-user", *args], input=stdin)
    assert result.exit_code != 0 and message in result.output
    assert db["users"].count == 0


def test_duplicate_username_is_refused(runner, db, county):
    args = ["create-user", "zhang", "--role", "village_clerk", "--region", "430811100001"]
    assert runner.invoke(args=args, input="a long enough secret\n").exit_code == 0
    again = runner.invoke(args=args, input="a long enough secret\n")
    assert again.exit_code != 0 and "已经有人用了" in again.output


def test_security_headers_on_every_response(client, staff):
    for url in ("/", "/lists/1", "/staff/login", "/nowhere", "/lists/1.csv"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp and "script-src 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_flags(app, staff):
    client = app.test_client()
    resp = login(client, "clerk")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_secure_cookies_when_configured_for_https(tmp_path):
    from portal import create_app
    app = create_app({"INSTANCE_PATH": str(tmp_path), "LOAD_DEMO": False, "HTTPS": True})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    resp = app.test_client().get("/")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


def test_console_pages_are_never_cached(client, staff):
    login(client, "clerk")
    assert client.get("/staff/").headers["Cache-Control"] == "no-store"


def _at(app, address):
    """A browser at this address (its own cookies: device cookie and session)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_guessing_from_one_address_does_not_lock_the_owner_out_elsewhere(app, staff):
    """Issue 17, item 4: before, 5 wrong passwords from anywhere refused the clerk everywhere."""
    attacker = _at(app, "203.0.113.9")
    for _ in range(5):
        assert login(attacker, "clerk", "wrong password!").status_code == 401
    assert login(attacker, "clerk").status_code == 429           # this place is held ...
    assert login(_at(app, "10.1.1.1"), "clerk").status_code == 302   # ... the owner elsewhere is not


def test_successful_logins_never_count_against_the_office_address(app, staff):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "5 per 15 minutes"
    for _ in range(12):          # a township office behind one address: everyone logs in all day
        for name in ("clerk", "reviewer", "admin"):
            assert login(_at(app, "10.2.2.2"), name).status_code == 302


def test_guessing_spread_over_many_addresses_is_bounded_but_the_owners_browser_works(app, db, staff):
    app.config["LOGIN_LIMIT_PER_ACCOUNT_SLOW"] = "8 per day"
    desk = _at(app, "10.3.3.3")
    assert login(desk, "clerk").status_code == 302                   # the owner's browser, known
    desk.post("/staff/logout")
    codes = [login(_at(app, f"198.51.100.{i}"), "clerk", f"guess {i}").status_code for i in range(12)]
    assert codes == [401] * 8 + [429] * 4                             # a botnet gets 8 guesses a day
    paused = login(_at(app, "198.51.100.200"), "clerk")               # even the right one, from a new place
    assert paused.status_code == 429 and "陌生电脑" in paused.get_data(as_text=True)
    # At the owner's desk (the device cookie from the earlier login) the account still opens, and
    # the owner is told what happened.
    response = login(desk, "clerk")
    assert response.status_code == 302
    page = desk.get("/staff/").get_data(as_text=True)
    assert "有人用您的账号输错密码 8 次" in page and "最近一次在 11月23日 10:00" in page
    assert next(db.query("select failed_logins from users where username = 'clerk'"))["failed_logins"] == 0


def test_a_forged_device_cookie_is_no_way_past_the_slow_limit(app, staff):
    from portal.staff.lockout import DEVICE_COOKIE

    app.config["LOGIN_LIMIT_PER_ACCOUNT_SLOW"] = "2 per day"
    for i in range(2):
        login(_at(app, f"198.51.100.{i}"), "clerk", "wrong password!")
    forger = _at(app, "198.51.100.77")
    forger.set_cookie(DEVICE_COOKIE, '{"id": "x", "accounts": ["clerk"]}', path="/staff")
    assert login(forger, "clerk").status_code == 429


def test_a_too_short_new_password_is_no_failed_attempt(app, db, staff):
    client = app.test_client()
    login(client, "clerk")
    page = client.post("/staff/password", data={"old": PASSWORD, "new": "short", "repeat": "short"})
    assert page.status_code == 400 and "至少要" in page.get_data(as_text=True)
    assert next(db.query("select failed_logins from users where username = 'clerk'"))["failed_logins"] == 0
    client.post("/staff/password", data={"old": "wrong old one!", "new": "another long secret",
                                         "repeat": "another long secret"})
    assert next(db.query("select failed_logins from users where username = 'clerk'"))["failed_logins"] == 1
