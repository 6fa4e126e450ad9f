"""The rules and workflows of the documents as plain Python: ranking and selection, windows and the
chain rule, quotas, publishing and amending, 依次递补 and 漏评, the complaint workflow, accounts and who
may do what, privacy, pinyin keys, the audit record.

No Flask, Werkzeug or Flask extension here, directly or through another module: the clock, the keys
and folders are passed in. Modules here import each other and the db layer only (tests/test_layers.py).
"""
