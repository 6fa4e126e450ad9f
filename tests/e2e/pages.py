"""Sample URLs for every public route, in the demo data at the frozen test clock.

Every endpoint of the app must appear here, either with HTML pages to audit or as a data route
checked elsewhere; test_pages.py fails for a new route that is missing.
"""

# endpoint -> sample paths of HTML pages (audited: validity, axe, weight, no JS).
HTML_PAGES = {
    "home.index": ["/"],
    "home.page": ["/pages/how-to-object", "/pages/about", "/pages/import-help", "/pages/grounds", "/pages/faq"],
    "regions.region_page": ["/r/430811", "/r/430811200", "/r/430811200001", "/r/430811200001001"],
    # 29: this year's exit list of 双星村 (open); 28: the county removal list (issue 20).
    "lists.list_page": ["/lists/1", "/lists/8", "/lists/16", "/lists/28", "/lists/29"],
    "lists.list_version": ["/lists/1/v1"],
    "lists.print_view": ["/lists/1/print", "/lists/16/print"],
    "complaints.new": ["/complaints/new", "/complaints/new?list=8", "/complaints/new?list=8&entry=3"],
    "complaints.track": ["/complaints/track"],
    "complaints.received": ["/complaints/received"],        # without a fresh filing: 回执已不再显示
    "notices.notice": ["/notices/1"],
    # Issue 21: the figures (the whole site, the county, a township, a village) and the public ledger.
    "stats.site_page": ["/stats"],
    "stats.region_page": ["/stats/430811", "/stats/430811100", "/stats/430811100001"],
    "ledger.ledger_page": ["/ledger"],
    "search.search_page": ["/search", "/search?q=zjg", "/search?q=lwb", "/search?q=%E7%B4%A2%E6%BA%AA%E5%B3%AA&state=open",
                           "/search?q=zhang&page=2", "/search?q=%28", "/search?q=" + "x" * 201],
}
# Pages that answer with an error status but must pass the same checks.
ERROR_PAGES = ["/lists/999999", "/r/999999", "/nowhere"]
# Console pages a person sees before logging in (the console itself is covered by the staff tests).
STAFF_PAGES = ["/staff/login"]
# endpoint -> why it is not an HTML page (checked by the journeys or the unit tests).
DATA_ROUTES = {
    "assets.asset": "the stylesheet and icons under hashed names (tests/test_caching.py; weighed with every page)",
    "lists.list_csv": "CSV download (journey test_csv_download)",
    "lists.list_json": "JSON download (tests/test_lists.py)",
    "home.healthz": "health check (tests/test_home.py)",
    "home.robots": "robots.txt (tests/test_home.py)",
    "feeds.feed": "RSS/Atom, checked strictly in tests/test_feeds.py",
    "static": "static files, weighed with each page",
    "complaints.add_info": "POST only: the status page it answers is checked in test_complaint_journey",
    "stats.site_csv": "figures as CSV: tests/test_stats.py (matches the page)",
    "stats.site_json": "figures as JSON: tests/test_stats.py",
    "stats.region_csv": "figures as CSV: tests/test_stats.py (matches the page)",
    "stats.region_json": "figures as JSON: tests/test_stats.py",
    "ledger.ledger_json": "the ledger, paged: tests/test_ledger.py (verify.py reads it)",
    "ledger.head_json": "the ledger's head: tests/test_ledger.py",
    "ledger.verifier": "verify.py itself: tests/test_ledger.py",
    "ledger.lists_index": "every list with its 校验码: tests/test_ledger.py (verify.py walks it)",
    "complaints.progress": "the status page again after 补充情况 (session only; else a redirect): test_complaints",
}
