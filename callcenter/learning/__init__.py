"""Learning from the calls people took: what each escalated or transferred call teaches, as
suggestions (example phrases, knowledge Q/A, new routes, flow-wide handler phrases) an admin
reviews into a draft flow.

Pure parts (`analyse`, `suggest`, `handlers`, `cluster`, `yamledit`, `apply`) work on plain
data; `wording` lets an LLM, when one is configured, reword answers from the supervisor's
redacted words; `store` and `review` own the SQL; `task` is the post-call Celery step. No web
framework here.
"""
