"""Scenarios and try-it: a flow played by text through the one action interpreter.

`format` reads scenario files (scripted callers with the expected outcome and slots) with
located problems, `files` finds a flow's scenarios, `runner` plays one and judges it,
`suite` runs them all, `webhooks` answers their webhooks with the flow's canned answers,
`tryit` holds the admin's live text conversations with a flow.
"""
