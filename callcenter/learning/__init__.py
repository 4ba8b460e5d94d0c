"""Learning from the calls people took: what each escalated or transferred call teaches, as
suggestions (example phrases, knowledge Q/A, new routes) an admin reviews into a draft flow.

Pure parts (`analyse`, `suggest`, `cluster`, `yamledit`, `apply`) work on plain data; `store`
and `review` own the SQL; `task` is the post-call Celery step. No web framework here.
"""
